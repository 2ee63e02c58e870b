"""Train a CIFAR classifier with a named config (same arguments as ``rdtheory train``).

The committed CPU checkpoints were made with (2 shared CPU cores, one thread each)::

    nohup nice -n 19 .venv/bin/python experiments/cifar_train.py --model vgg16_bn --config cpu --threads 1 \
        --out-dir experiments/checkpoints/cifar10_vgg16_bn_cpu --no-progress \
        --log experiments/checkpoints/cifar10_vgg16_bn_cpu/train.log &
    nohup nice -n 19 .venv/bin/python experiments/cifar_train.py --model resnet50 --config cpu --threads 1 \
        --out-dir experiments/checkpoints/cifar10_resnet50_cpu --no-progress \
        --log experiments/checkpoints/cifar10_resnet50_cpu/train.log &

Re-running the same command resumes from ``<out-dir>/last.pt`` after the last finished epoch.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rdtheory.vision.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
