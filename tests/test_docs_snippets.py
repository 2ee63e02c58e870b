"""Every ```python block of README.md and docs/*.md runs as written.

A block is run in a fresh namespace (blocks do not share variables, so each one must be
self-contained). A block with ``>>>`` prompts is a doctest: its shown output is checked too.
A block may opt out with a visible HTML comment on the line before its fence::

    <!-- skip: needs torch + the CIFAR-10 data + a minute of CPU -->

(the reason is required). ``bash`` and plain ``` blocks are not run.
"""
from __future__ import annotations

import doctest
import re
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\S*)\s*$")
_SKIP = re.compile(r"^<!--\s*skip:\s*(?P<why>.*?)\s*-->$")
# the most blocks that may opt out; raise it only with a reason in the skip comment
MAX_SKIPPED = 2


class Snippet(NamedTuple):
    source: str          # "README.md:42" (line of the opening fence)
    code: str
    skip: str | None     # the reason of a <!-- skip: ... --> marker, else None


def collect(text: str, name: str) -> list[Snippet]:
    """The ```python / ```pycon blocks of a markdown text, with their skip markers."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = _FENCE.match(lines[i].strip())
        if not m:
            i += 1
            continue
        lang, start = m.group(1).lower(), i
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        if j == len(lines):
            raise ValueError(f"{name}:{start + 1}: unclosed ``` fence")
        if lang in ("python", "py", "pycon"):
            k = start - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            skip = _SKIP.match(lines[k].strip()) if k >= 0 else None
            if skip is not None and not skip.group("why"):
                raise ValueError(f"{name}:{k + 1}: a skip marker must give its reason")
            out.append(Snippet(f"{name}:{start + 1}", "\n".join(lines[start + 1:j]) + "\n",
                               skip.group("why") if skip else None))
        i = j + 1
    return out


def run_snippet(snippet: Snippet) -> int:
    """Run one block; raise on any exception or doctest mismatch. Returns examples run."""
    if re.search(r"^\s*>>>", snippet.code, flags=re.M):
        test = doctest.DocTestParser().get_doctest(snippet.code, {"__name__": "__docs__"},
                                                   snippet.source, snippet.source, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
        report: list[str] = []
        runner.run(test, out=report.append)
        res = runner.summarize(verbose=False)
        if res.failed:
            raise AssertionError(f"{snippet.source}: {res.failed} of {res.attempted} examples "
                                 f"failed\n" + "".join(report))
        return res.attempted
    exec(compile(snippet.code, snippet.source, "exec"), {"__name__": "__docs__"})
    return 1


SNIPPETS = [s for f in FILES for s in collect(f.read_text(encoding="utf-8"), f.relative_to(ROOT).as_posix())]
RUN = [s for s in SNIPPETS if s.skip is None]


def test_snippets_are_found_and_opt_outs_are_few():
    # a collector that finds nothing would make every other test here vacuous
    assert len(RUN) > 0 and any(s.source.startswith("README.md") for s in RUN)
    skipped = [f"{s.source} ({s.skip})" for s in SNIPPETS if s.skip is not None]
    assert len(skipped) <= MAX_SKIPPED, skipped


@pytest.mark.parametrize("snippet", RUN, ids=[s.source for s in RUN])
def test_snippet_runs(snippet, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)          # a snippet that writes files writes them here
    assert run_snippet(snippet) > 0


def test_harness_detects_failures_and_markers():
    md = ("text\n```python\nx = 1\n```\n\n<!-- skip: needs a GPU -->\n```python\nraise SystemError\n```\n"
          "```bash\nfalse\n```\n```python\n>>> 1 + 1\n3\n```\n```python\n1 / 0\n```\n")
    found = collect(md, "t.md")
    assert [s.source for s in found] == ["t.md:2", "t.md:7", "t.md:13", "t.md:17"]
    assert [s.skip for s in found] == [None, "needs a GPU", None, None]
    assert run_snippet(found[0]) == 1
    with pytest.raises(AssertionError, match="1 of 1 examples failed"):
        run_snippet(found[2])
    with pytest.raises(ZeroDivisionError):
        run_snippet(found[3])
    with pytest.raises(ValueError, match="must give its reason"):
        collect("<!-- skip: -->\n```python\nx\n```\n", "t.md")


def test_readme_local_links_exist():
    # README.md is not part of the mkdocs site, so its strict link check does not cover it
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", text)
    local = [u for u in links if "://" not in u]
    assert any(u.endswith(".png") for u in local)          # the figures of "What it finds"
    missing = [u for u in local if not (ROOT / u).exists()]
    assert not missing, missing
