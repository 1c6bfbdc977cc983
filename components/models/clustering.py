"""Deep clustering: an MLP autoencoder trained on reconstruction by the shared loop, then KMeans on its
embedding (fitted in `finalize`, after training). Labels are never used: the target is the input."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from components.core.strict import PositiveInt, Strict
from components.models.layers import mlp


class ClusteringConfig(Strict):
    """Autoencoder (MLP encoder -> `embedding` -> mirrored decoder) trained on reconstruction, then KMeans on
    the embedding in `finalize`."""

    n_clusters: PositiveInt = 10
    hidden: list[PositiveInt] = Field(default_factory=lambda: [256, 128], min_length=1)
    embedding: PositiveInt = 10
    noise: float = Field(0.5, ge=0.0)  # denoising: Gaussian noise (std, standardised units) added while training
    n_init: PositiveInt = 20  # KMeans restarts
    kmeans_seed: int = 42


class AutoencoderKMeans(nn.Module):
    """(B, F) standardised features -> (B, 1 + D): nearest-centre index (as float), then the embedding."""

    def __init__(self, cfg: ClusteringConfig, n_features: int):
        super().__init__()
        dims = [n_features, *cfg.hidden, cfg.embedding]
        self.encoder = mlp(dims)
        self.decoder = mlp(dims[::-1])
        self.noise = cfg.noise
        self.n_init, self.kmeans_seed = cfg.n_init, cfg.kmeans_seed
        self.register_buffer("centres", torch.zeros(cfg.n_clusters, cfg.embedding))  # set by finalize

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) -> (B, D)."""
        return self.encoder(x)

    def assign(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) embeddings -> (B,) index of the nearest centre."""
        return torch.cdist(z, self.centres).argmin(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, F); y: (B, F) reconstruction target (the clean input). Returns (B, 1 + D) and the MSE if y."""
        z = self.embed(x)  # (B, D)
        out = torch.cat([self.assign(z).unsqueeze(1).to(z.dtype), z], dim=1)  # (B, 1 + D)
        if y is None:
            return out, None
        noisy = x + self.noise * torch.randn_like(x) if self.training and self.noise > 0 else x  # denoising AE
        return out, F.mse_loss(self.decoder(self.embed(noisy)), y)

    def finalize(self, train, val) -> dict[str, float]:
        """KMeans on the train split's embedding; its centres become the model's cluster centres."""
        from sklearn.cluster import KMeans

        was_training = self.training
        self.eval()
        z = self.embed(train.x).cpu().numpy()
        km = KMeans(len(self.centres), n_init=self.n_init, random_state=self.kmeans_seed).fit(z)
        self.centres.copy_(torch.as_tensor(km.cluster_centers_, dtype=self.centres.dtype))
        self.train(was_training)
        return {"kmeans_inertia": float(km.inertia_)}


def build(cfg: ClusteringConfig, input_shape: tuple[int, ...], n_outputs: int) -> AutoencoderKMeans:
    """Build for flat inputs of shape (F,)."""
    return AutoencoderKMeans(cfg, input_shape[0])
