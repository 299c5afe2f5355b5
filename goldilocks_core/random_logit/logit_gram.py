"""The Gram matrix of a network's logit gradients over all its parameters (the empirical NTK).

Fort & Ganguli (2019, Eq. 11–13) measure the clustering of logit gradients ∂z_k^μ/∂W by mean
cosine similarities between them. All three need only inner products, so this module computes

    Θ[μ, k, ν, l] = ⟨∂z_k(x^μ)/∂θ, ∂z_l(x^ν)/∂θ⟩        (N × K × N × K, float64)

in the full parameter space without ever storing the N·K × P Jacobian. Layer by layer, with a^μ
the input of a layer and δ_k^μ = ∂z_k^μ/∂(its output):

* ``nn.Linear``: ∂z_k^μ/∂W = δ_k^μ a^μᵀ, so its share of Θ is (δ_k^μ·δ_l^ν)(a^μ·a^ν) (and
  δ_k^μ·δ_l^ν for a bias) — two small Gram matrices;
* ``nn.Conv2d``: the per-sample weight gradients Σ_t δ_{k,t}^μ ⊗ patch_t^μ are formed explicitly
  (convolution kernels are small) and their Gram matrix added.

δ comes from K backward passes per chunk of samples (each sample's logits depend only on its own
input: no batch normalisation). Any other module holding trainable parameters is refused.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["logit_gradient_gram", "gram_statistics"]


def _layers(model: nn.Module) -> list[nn.Module]:
    layers, owned = [], set()
    for name, module in model.named_modules():
        own = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if not own:
            continue
        if isinstance(module, nn.Linear) or (isinstance(module, nn.Conv2d) and module.groups == 1):
            layers.append(module)
            owned.update(id(p) for p in own)
        else:
            raise ValueError(f"layer {name!r} ({type(module).__name__}) is not supported: only nn.Linear "
                             "and nn.Conv2d (groups = 1) may hold trainable parameters")
    if not layers:
        raise ValueError("the model has no trainable nn.Linear or nn.Conv2d layer")
    return layers


def _conv_gradients(conv: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-logit gradients of a Conv2d's parameters, (B, K, P_layer)."""
    if isinstance(conv.padding, str):
        raise ValueError("nn.Conv2d with string padding is not supported")
    patches = nn.functional.unfold(a, conv.kernel_size, dilation=conv.dilation, padding=conv.padding,
                                   stride=conv.stride)  # (B, Cin·kh·kw, T)
    b, k = delta.shape[:2]
    d = delta.reshape(b, k, conv.out_channels, -1)  # (B, K, Cout, T)
    parts = [torch.einsum("bkot,bit->bkoi", d, patches).reshape(b, k, -1)]
    if conv.bias is not None and conv.bias.requires_grad:
        parts.append(d.sum(-1))
    return torch.cat(parts, -1)


def logit_gradient_gram(model: nn.Module, inputs: torch.Tensor, *, chunk_size: int = 256) -> torch.Tensor:
    """Θ[μ, k, ν, l] = ⟨∂z_k(x^μ)/∂θ, ∂z_l(x^ν)/∂θ⟩ over every trainable parameter θ.

    Parameters
    ----------
    model : nn.Module
        A feed-forward network whose trainable parameters all sit in ``nn.Linear`` or
        ``nn.Conv2d`` layers (any activation, pooling or flattening in between).
    inputs : tensor (N, …)
        The samples x^μ.
    chunk_size : int
        Samples per forward pass (memory).

    Returns
    -------
    torch.Tensor
        (N, K, N, K), float64 on the CPU, symmetric positive semi-definite as an NK × NK matrix.
    """
    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 2 or inputs.shape[0] < 1:
        raise ValueError(f"inputs must be a tensor N × … with N ≥ 1, got {getattr(inputs, 'shape', inputs)!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    layers = _layers(model)
    param = next(p for p in model.parameters() if p.requires_grad)
    store: dict[int, list] = {id(m): [] for m in layers}
    captured: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(module, args, output):
        captured[id(module)] = (args[0].detach(), output)

    handles = [m.register_forward_hook(hook) for m in layers]
    num_logits = 0
    try:
        for start in range(0, inputs.shape[0], chunk_size):
            x = inputs[start:start + chunk_size].to(device=param.device, dtype=param.dtype)
            captured.clear()
            with torch.enable_grad():
                z = model(x)
                if z.ndim != 2:
                    raise ValueError(f"the model must return logits N × K, got shape {tuple(z.shape)}")
                num_logits = z.shape[1]
                outs = [captured[id(m)][1] for m in layers]
                deltas = [[] for _ in layers]
                for k in range(z.shape[1]):
                    grads = torch.autograd.grad(z[:, k].sum(), outs, retain_graph=k < z.shape[1] - 1)
                    for i, g in enumerate(grads):
                        deltas[i].append(g.detach())
            for i, m in enumerate(layers):
                a = captured[id(m)][0]
                delta = torch.stack(deltas[i], 1)  # (B, K, out…)
                if isinstance(m, nn.Linear):
                    if a.ndim != 2:
                        raise ValueError("nn.Linear layers must see inputs N × features")
                    store[id(m)].append((a.to(torch.float64).cpu(), delta.to(torch.float64).cpu()))
                else:
                    store[id(m)].append(_conv_gradients(m, a, delta).to(torch.float64).cpu())
    finally:
        for h in handles:
            h.remove()

    n, k = inputs.shape[0], num_logits
    gram = torch.zeros(n * k, n * k, dtype=torch.float64)
    for m in layers:
        if isinstance(m, nn.Linear):
            a = torch.cat([s[0] for s in store[id(m)]])  # (N, in)
            d = torch.cat([s[1] for s in store[id(m)]]).reshape(n * k, -1)  # (NK, out)
            dd = d @ d.T
            weight = (a @ a.T).repeat_interleave(k, 0).repeat_interleave(k, 1)
            if m.bias is not None and m.bias.requires_grad:
                weight = weight + 1.0
            gram += dd * weight
        else:
            g = torch.cat(store[id(m)]).reshape(n * k, -1)
            gram += g @ g.T
    gram = 0.5 * (gram + gram.T)
    return gram.reshape(n, k, n, k)


def gram_statistics(gram: torch.Tensor, labels) -> dict[str, float]:
    """Lengths of logit gradients and of F&G's class means from a Gram matrix Θ (N, K, N, K).

    Returns ``grad_norm`` (mean over μ, k of ‖∂z_k^μ/∂θ‖) and ``class_mean_norm`` (mean over k of
    ‖c_k‖, c_k = (1/N_k) Σ_{μ: y^μ = k} ∂z_k^μ/∂θ, F&G Eq. 15; classes without samples skipped).
    """
    g = torch.as_tensor(gram, dtype=torch.float64)
    if g.ndim != 4 or g.shape[:2] != g.shape[2:]:
        raise ValueError(f"gram must be N × K × N × K, got shape {tuple(g.shape)}")
    n, k = g.shape[:2]
    y = torch.as_tensor(labels)
    if y.shape != (n,) or y.is_floating_point() or (y < 0).any() or (y >= k).any():
        raise ValueError(f"labels must be {n} integers in [0, {k})")
    diag = torch.einsum("nknk->nk", g).clamp_min(0)
    norms = []
    for c in range(k):
        idx = torch.nonzero(y == c).flatten()
        if idx.numel():
            norms.append(g[idx, c][:, idx, c].mean().clamp_min(0).sqrt())
    return {"grad_norm": float(diag.sqrt().mean()), "class_mean_norm": float(torch.stack(norms).mean())}
