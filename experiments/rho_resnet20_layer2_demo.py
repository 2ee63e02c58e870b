"""The issue-15 interval example: ResNet-20 ``layer2`` rho, basic group bootstrap vs bias-corrected jackknife.

Streams the CIFAR-10 (JPEG q75 re-export) test images (a 1,000-image stratified subsample, or
all 10,000 with ``--all``) through the shipped pretrained ResNet-20, keeps 20 balanced groups
of ``layer2`` statistics (:class:`rdtheory.vision.taps.GroupedRho`) and prints the plug-in rho
with the basic group-bootstrap interval (the old report) beside the bias-corrected point and
its grouped-jackknife interval (docs/appropriateness.md, section 5). Needs torch and
RDTHEORY_DATA. Usage: ``python experiments/rho_resnet20_layer2_demo.py [--all]``.

References
----------
.. [1] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its Applications",
   arXiv:2305.17295, 2023 (Sec. III-B.2, Table I).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    import torch

    from rdtheory._io import cache_dir
    from rdtheory.vision.data import iterate_batches, load_dataset, to_tensor
    from rdtheory.vision.models import load_pretrained_cifar_resnet
    from rdtheory.vision.paths import find_data
    from rdtheory.vision.taps import GroupedRho, LayerTaps, balanced_groups

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--all", action="store_true", help="all 10,000 test images instead of 1,000")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    d = load_dataset("cifar10-jpeg", split="test", cache_dir=cache_dir("data"))
    if not args.all:
        d = d.stratified(1000, seed=0)
    m = load_pretrained_cifar_resnet(find_data("cifar10-resnet-weights") / "resnet20-12fca82f.th").eval()
    grp = balanced_groups(d.labels, 20, 0)
    g = GroupedRho(20)
    cur = {}
    with torch.no_grad(), LayerTaps(m, ["layer2"], lambda name, out: g.update(out, cur["y"], cur["g"])):
        for idx in iterate_batches(len(d), 250):
            cur["y"], cur["g"] = d.labels[idx], grp[idx]
            m(to_tensor(d.images[idx], "imagenet"))
    b = g.bootstrap(1000)
    j = g.jackknife()
    print(f"{len(d)} images: plug-in {g.result().rho:.4f}, basic group bootstrap [{b.low:.4f}, {b.high:.4f}]; "
          f"bias-corrected {j.estimate:.4f} [{j.low:.4f}, {j.high:.4f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
