"""Unit tests work on tiny tensors: one intra-op thread avoids OpenMP spin-waiting on 2 cores."""
import torch

torch.set_num_threads(1)
