"""Bias-free homogeneous ReLU networks (§2 of Vysogorets et al., 2024).

Every model here satisfies f_{αθ} = α^L f_θ for α > 0, where L is the number of
weight layers (:func:`homogeneity_degree`): all layers are bias-free, the only
nonlinearity is ReLU (positively homogeneous of degree 1) and pooling is average
pooling (linear). Weights are initialised Kaiming-normal (fan_in, gain √2) on every
layer, the last included, as in the authors' code.

``activation="tanh"`` (for Fort & Ganguli's Fig. 1, which compares ReLU and tanh networks) swaps
every ReLU for a tanh and keeps everything else, the Kaiming draw included; such a network is not
homogeneous and :func:`homogeneity_degree` refuses it.
"""
from __future__ import annotations

import copy
import math
import numbers
from typing import Sequence

import torch
from torch import nn

from .validation import check_alpha, check_positive, check_temperature

__all__ = [
    "mlp",
    "constant_width_mlp",
    "lenet_300_100",
    "lenet5",
    "kaiming_init_",
    "homogeneity_degree",
    "num_parameters",
    "scale_parameters",
    "homogeneity_error",
    "resolve_degree",
    "inverse_temperature",
    "ACTIVATIONS",
]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
_WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
# Modules that keep a network positively homogeneous of degree 1 (or 0 weight layers).
_HOMOGENEOUS_PASS_THROUGH = (
    nn.ReLU,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.Flatten,
    nn.Identity,
    nn.Sequential,
)


def kaiming_init_(model: nn.Module, *, generator: torch.Generator | None = None) -> nn.Module:
    """Initialise every weight layer in place, Kaiming-normal with fan_in mode and gain √2.

    Each weight is drawn from N(0, 2 / fan_in), fan_in = in_features (Linear) or
    in_channels · kernel volume (Conv); the last layer included, as in the authors' code.

    Parameters
    ----------
    model : nn.Module
        The network; its ``Linear`` and ``ConvNd`` weights are overwritten.
    generator : torch.Generator, optional
        Source of randomness, for reproducible draws (drawn on the CPU).

    Returns
    -------
    nn.Module
        ``model`` itself.
    """
    for module in model.modules():
        if isinstance(module, _WEIGHT_LAYERS):
            weight = module.weight
            fan_in = weight[0].numel()
            std = math.sqrt(2.0 / fan_in)
            with torch.no_grad():
                weight.copy_(
                    torch.randn(weight.shape, generator=generator, dtype=weight.dtype).to(weight.device) * std
                )
    return model


def _activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}, got {name!r}")
    return ACTIVATIONS[name]


def _finish(model: nn.Module, generator, dtype) -> nn.Sequential:
    if dtype is not None:
        model = model.to(dtype)
    return kaiming_init_(model, generator=generator)


def mlp(
    widths: Sequence[int],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    activation: str = "relu",
) -> nn.Sequential:
    r"""Build a bias-free ReLU multilayer perceptron ``widths[0] → … → widths[-1]``.

    Inputs of any shape ``(N, …)`` are flattened first. L = ``len(widths) - 1``, and
    :math:`f_{\alpha\theta} = \alpha^L f_\theta`.

    Parameters
    ----------
    widths : sequence of int
        At least two positive layer widths: input, hidden…, classes.
    generator : torch.Generator, optional
        Source of randomness of the Kaiming initialisation (:func:`kaiming_init_`).
    dtype : torch.dtype, optional
        Parameter dtype (default: torch's default dtype).
    activation : str
        ``"relu"`` (default) or ``"tanh"`` (then the network is not homogeneous).

    Returns
    -------
    nn.Sequential
        ``Flatten, Linear, ReLU (or Tanh), …, Linear``.
    """
    act = _activation(activation)
    widths = [int(w) for w in widths]
    if len(widths) < 2 or any(w <= 0 for w in widths):
        raise ValueError(f"mlp needs at least two positive widths, got {widths}")
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b, bias=False))
        if i < len(widths) - 2:
            layers.append(act())
    return _finish(nn.Sequential(*layers), generator, dtype)


def constant_width_mlp(
    in_features: int,
    width: int,
    depth: int,
    num_classes: int = 10,
    *,
    last_layer_variance: float = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Sequential:
    """Bias-free ReLU network with ``depth`` weight layers, all hidden layers ``width`` wide.

    The fully connected networks of Kalra & Barkeshli (2023, App. A) in standard
    parameterisation at criticality: hidden weights N(0, 2/fan_in) (He), the last layer
    N(0, ``last_layer_variance``/fan_in) (their σ²_w = 1 for the readout). L = ``depth``
    (``depth = 1`` is a linear map).
    """
    for name, value in (("in_features", in_features), ("width", width), ("depth", depth),
                        ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    variance = check_positive("last_layer_variance", last_layer_variance)
    widths = [int(in_features), *[int(width)] * (int(depth) - 1), int(num_classes)]
    model = mlp(widths, generator=generator, dtype=dtype)
    last = [m for m in model if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():  # Kaiming drew N(0, 2/fan_in): rescale to N(0, σ²_L/fan_in)
        last.weight.mul_(math.sqrt(variance / 2.0))
    return model


def lenet_300_100(
    in_features: int = 784,
    num_classes: int = 10,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    activation: str = "relu",
) -> nn.Sequential:
    """Build LeNet-300-100: ``in_features``-300-100-``num_classes``, bias-free, with L = 3.

    P = 266,200 for 28×28 inputs and 10 classes.

    Parameters
    ----------
    in_features : int
        Input size D (inputs are flattened).
    num_classes : int
        K, the number of logits.
    generator, dtype, activation
        As for :func:`mlp`.

    Returns
    -------
    nn.Sequential
    """
    return mlp([in_features, 300, 100, num_classes], generator=generator, dtype=dtype, activation=activation)


def lenet5(
    in_channels: int = 3,
    image_size: int = 32,
    num_classes: int = 10,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    activation: str = "relu",
) -> nn.Sequential:
    """Build a bias-free LeNet-5 with average pooling and no padding, with L = 5.

    conv(in→6, 5×5) → ReLU → AvgPool 2 → conv(6→16, 5×5) → ReLU → AvgPool 2 →
    FC 16·s²-120-84-``num_classes``, where s = ((image_size − 4)/2 − 4)/2.
    P = 61,770 for 32×32×3 inputs (the paper prints 61,170).

    Parameters
    ----------
    in_channels : int
        C of the N×C×H×W inputs.
    image_size : int
        H = W, at least 16.
    num_classes : int
        K, the number of logits.
    generator, dtype
        As for :func:`mlp`.
    activation : str
        ``"relu"`` or ``"tanh"`` (every ReLU replaced).

    Returns
    -------
    nn.Sequential
    """
    act = _activation(activation)
    side = ((image_size - 4) // 2 - 4) // 2
    if side < 1:
        raise ValueError(f"lenet5 needs image_size ≥ 16, got {image_size}")
    model = nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, bias=False),
        act(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5, bias=False),
        act(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * side * side, 120, bias=False),
        act(),
        nn.Linear(120, 84, bias=False),
        act(),
        nn.Linear(84, num_classes, bias=False),
    )
    return _finish(model, generator, dtype)


def homogeneity_degree(model: nn.Module) -> int:
    """Return L such that f_{αθ} = α^L f_θ: the number of weight layers of a feed-forward stack.

    Parameters
    ----------
    model : nn.Module
        The network to inspect.

    Returns
    -------
    int
        L ≥ 1. ``ValueError`` when the model has biases, no weight layer, or a module that
        is not known to keep the network homogeneous (anything other than bias-free
        Linear/Conv, ReLU, average pooling, Flatten, Identity).
    """
    degree = 0
    for name, module in model.named_modules():
        if isinstance(module, _WEIGHT_LAYERS):
            if module.bias is not None:
                raise ValueError(f"layer {name!r} has a bias: the network is not homogeneous")
            degree += 1
        elif not isinstance(module, _HOMOGENEOUS_PASS_THROUGH) and module is not model:
            raise ValueError(
                f"layer {name!r} ({type(module).__name__}) is not known to be positively homogeneous"
            )
    if degree == 0:
        raise ValueError("the model has no weight layers")
    return degree


def num_parameters(model: nn.Module) -> int:
    """Count P, the number of trainable parameters.

    Parameters
    ----------
    model : nn.Module
        The network.

    Returns
    -------
    int
        Σ of ``numel`` over the parameters with ``requires_grad``.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def scale_parameters(model: nn.Module, alpha: float) -> nn.Module:
    """Return a deep copy of ``model`` with every parameter multiplied by α (θ → αθ).

    Parameters
    ----------
    model : nn.Module
        The network (not modified).
    alpha : float
        α > 0.

    Returns
    -------
    nn.Module
        The scaled copy.
    """
    a = check_alpha(alpha)
    scaled = copy.deepcopy(model)
    with torch.no_grad():
        for p in scaled.parameters():
            p.mul_(a)
    return scaled


def homogeneity_error(model: nn.Module, inputs: torch.Tensor, alphas, *, degree: int | None = None) -> dict[float, float]:
    r"""Measure the relative violation of f_{αθ} = α^L f_θ for each α.

    The error is :math:`\max\lvert f_{\alpha\theta}(x) - \alpha^L f_\theta(x)\rvert / \max\lvert\alpha^L f_\theta(x)\rvert`.

    Parameters
    ----------
    model : nn.Module
        The network θ.
    inputs : torch.Tensor
        Inputs x to evaluate on.
    alphas : iterable of float
        The scales α > 0.
    degree : int, optional
        L (default: :func:`homogeneity_degree`).

    Returns
    -------
    dict of float to float
        ``{alpha: relative error}``.
    """
    L = homogeneity_degree(model) if degree is None else int(degree)
    with torch.no_grad():
        base = model(inputs)
        out = {}
        for alpha in alphas:
            expected = check_alpha(alpha) ** L * base
            got = scale_parameters(model, alpha)(inputs)
            out[float(alpha)] = float((got - expected).abs().max() / expected.abs().max())
    return out


def resolve_degree(model: nn.Module, degree: int | None = None, *, alpha: float | None = None) -> int:
    """Return L of f_{αθ} = α^L f_θ (Eq. 5), read from ``model`` when it can be, else ``degree``.

    Parameters
    ----------
    model : nn.Module
        The network; :func:`homogeneity_degree` reads L off a bias-free stack of weight
        layers, ReLUs and average pooling.
    degree : int, optional
        ``None`` (read L from the model), or a positive integer: required for a model that
        :func:`homogeneity_degree` cannot inspect, and for one it can it must equal the
        degree read (a different L would scale the curvature by the wrong powers of α).
    alpha : float, optional
        The scale the degree is wanted for. At α = 1 every power α^L is 1, so a model that
        cannot be inspected gets L = 1 instead of an error; at α ≠ 1 the error says how to
        scale such a model explicitly. ``None``: no such allowance.

    Returns
    -------
    int
        L ≥ 1. ``ValueError`` for a bad ``degree``, a model that is not inspectable when
        ``degree`` is ``None``, or a ``degree`` that contradicts the model.
    """
    if degree is None:
        try:
            return homogeneity_degree(model)
        except ValueError as err:
            if alpha is None:
                raise
            if float(alpha) == 1.0:
                return 1  # α^L = 1 whatever L is
            raise ValueError(f"alpha != 1 needs a homogeneous model (f_αθ = α^L f_θ): {err}; scale it explicitly "
                             "with models.scale_parameters and use alpha=1, or pass degree=L") from None
    if isinstance(degree, bool) or not isinstance(degree, numbers.Integral) or degree < 1:
        raise ValueError(f"degree must be a positive integer (the homogeneity degree L), got {degree!r}")
    degree = int(degree)
    try:
        read = homogeneity_degree(model)
    except ValueError:
        return degree  # a model the check cannot inspect: trust the caller's L
    if read != degree:
        raise ValueError(f"degree={degree} contradicts the model, whose homogeneity degree (number of "
                         f"weight layers) is L={read}: omit degree= or pass degree={read}")
    return degree


def inverse_temperature(alpha: float, temperature: float, degree: int) -> float:
    r"""Compute β = α^L/T (Eq. 5), the inverse temperature that the unscaled logits see.

    When the network is scaled by α and its softmax runs at temperature T, the unscaled
    logits z = f_θ(x) enter the softmax as :math:`\sigma(\beta z)` with
    :math:`\beta = \alpha^L/T`. Computed in log space.

    Parameters
    ----------
    alpha : float
        α > 0.
    temperature : float
        T > 0.
    degree : int
        L, the homogeneity degree.

    Returns
    -------
    float
        β. ``ValueError`` if β is not a finite positive float64.
    """
    a, t = check_alpha(alpha), check_temperature(temperature)
    log_beta = degree * math.log(a) - math.log(t)
    if log_beta > 709.0 or log_beta < -745.0:
        raise ValueError(f"β = α^L/T = e^{log_beta:.1f} is outside the float64 range (α={alpha}, T={temperature}, L={degree})")
    return math.exp(log_beta)
