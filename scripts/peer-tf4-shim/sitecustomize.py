# On PYTHONPATH beside transformers 4.55.4 (the peer's DoLa): the venv's `kernels` package is
# for transformers 5 and needs a newer huggingface_hub than 4.55.4 brings, so hide it.
import sys

sys.modules["kernels"] = None
