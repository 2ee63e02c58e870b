"""mkdocs hook: links from docs/ to repository files outside docs/ (``../figures/*.png``,
``../benchmarks/results/engine.md``) work on GitHub; for the site, each such target that
exists is added to the build under ``_repo/`` and the link rewritten to it. A link whose
target does not exist is left as written, so ``mkdocs build --strict`` still fails on it.
"""
from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

_LINK = re.compile(r"(\]\()(\.\./[^)\s#]+)")
_PREFIX = "_repo"


def _dirs(config) -> tuple[Path, Path]:
    docs = Path(config["docs_dir"]).resolve()
    return docs, Path(config["config_file_path"]).resolve().parent


def _outside_target(page_dir: Path, link: str, docs: Path, root: Path) -> Path | None:
    """The repository file a ``../`` link points to, if it exists outside docs/."""
    target = (page_dir / link).resolve()
    if target.is_file() and root in target.parents and docs not in target.parents:
        return target
    return None


def on_files(files, config):
    docs, root = _dirs(config)
    added = set()
    for page in list(files.documentation_pages()):
        path = Path(page.abs_src_path)
        for m in _LINK.finditer(path.read_text(encoding="utf-8")):
            target = _outside_target(path.parent, m.group(2), docs, root)
            rel = target and target.relative_to(root).as_posix()
            if rel and rel not in added:
                added.add(rel)
                files.append(File.generated(config, f"{_PREFIX}/{rel}", abs_src_path=str(target)))
    return files


def on_page_markdown(markdown, page, config, files):
    docs, root = _dirs(config)
    if page.file.abs_src_path is None or docs not in Path(page.file.abs_src_path).resolve().parents:
        return markdown
    page_dir = Path(page.file.abs_src_path).parent
    here = posixpath.dirname(page.file.src_uri) or "."

    def rewrite(m):
        target = _outside_target(page_dir, m.group(2), docs, root)
        if target is None:
            return m.group(0)
        return m.group(1) + posixpath.relpath(f"{_PREFIX}/{target.relative_to(root).as_posix()}", here)

    return _LINK.sub(rewrite, markdown)
