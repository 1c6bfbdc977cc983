"""Building blocks shared by the model families."""

from __future__ import annotations

from torch import nn


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers sizes[0] -> sizes[1] -> ... -> sizes[-1], ReLU between them (none after the last: a code
    or a reconstruction is left linear)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def batch_norm_to_group_norm(module: nn.Module) -> list[str]:
    """Replace every BatchNorm{1,2,3}d inside `module` by GroupNorm(gcd(32, C), C), in place (what Opacus'
    ModuleValidator.fix does: batch norm mixes the rows of a batch, so per-sample gradients do not exist).
    Returns the replaced modules' names. A checkpoint that records this fix is rebuilt with it."""
    import math

    replaced = []
    for name, child in list(module.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.GroupNorm(math.gcd(32, child.num_features), child.num_features,
                                               affine=child.affine))
            replaced.append(name)
        else:
            replaced += [f"{name}.{n}" for n in batch_norm_to_group_norm(child)]
    return replaced


MODULE_FIXES = {"group_norm": batch_norm_to_group_norm}  # fix name -> in-place rewrite (checkpoint meta)
