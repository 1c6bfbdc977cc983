"""Deep clustering: an MLP autoencoder whose encoder also learns to reproduce the spectral embedding of the
train rows' k-nearest-neighbour graph, then KMeans centres on its embedding refined by IDEC (Guo et al. 2017).
Labels are never used: the targets are the input and the graph's embedding.

1. `prepare` (before the shared loop): the spectral target of the train rows (the leading `embedding`
   eigenvectors of the normalised Laplacian of their symmetric `n_neighbors`-NN graph, row-normalised) is
   appended to the train targets: y = [x | s]. The shared loop then trains reconstruction of the clean input
   from a noisy one plus `graph_weight` x MSE(embedding, s): an encoder that carries the spectral embedding to
   new rows. The val targets stay the input alone (its loss is reconstruction only).
2. `finalize` (after it): KMeans centres on the train embedding, then IDEC refinement: KL(P || Q) between the
   Student-t soft assignment Q to the centres and its sharpened target P, plus `refine_recon_weight` x
   reconstruction, with P recomputed every `update_every` steps; it stops when fewer than `tol` of the train
   assignments change between two updates. With `graph_weight` 0 and `refine_steps` 0 this is the plain
   denoising autoencoder + KMeans.

A row's cluster is its nearest stored centre (= the argmax of Q): serving needs no graph and no train rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from components.core.strict import PositiveInt, Strict
from components.models.layers import mlp


class ClusteringConfig(Strict):
    """Autoencoder (MLP encoder -> `embedding` -> mirrored decoder) with a spectral target, KMeans centres, IDEC."""

    n_clusters: PositiveInt = 10
    hidden: list[PositiveInt] = Field(default_factory=lambda: [256, 128], min_length=1)
    embedding: PositiveInt = 10
    noise: float = Field(0.2, ge=0.0)  # denoising: Gaussian noise (std, standardised units) added while training
    graph_weight: float = Field(1.0, ge=0.0)  # weight of the spectral target; 0: a plain autoencoder
    n_neighbors: PositiveInt = 5  # the kNN graph of the spectral target
    n_init: PositiveInt = 20  # KMeans restarts
    kmeans_seed: int = 42  # seed of the scikit-learn steps (spectral embedding, KMeans)
    refine_steps: int = Field(1000, ge=0)  # at most this many IDEC steps; 0: KMeans centres only
    refine_lr: float = Field(1e-3, gt=0.0)
    refine_batch: PositiveInt = 128
    refine_recon_weight: float = Field(0.1, ge=0.0)  # IDEC's reconstruction term (0: plain DEC)
    update_every: PositiveInt = 50  # IDEC steps between target-distribution updates
    tol: float = Field(0.001, ge=0.0)  # stop when fewer than this share of train assignments change
    alpha: float = Field(1.0, gt=0.0)  # Student-t degrees of freedom


def spectral_target(x: torch.Tensor, dim: int, n_neighbors: int, seed: int) -> torch.Tensor:
    """(N, F) rows -> (N, dim): the spectral embedding of their symmetric kNN graph (scikit-learn), each row
    scaled to norm sqrt(dim) (unit variance per coordinate on average, the scale of a usual embedding)."""
    import warnings

    from sklearn.manifold import SpectralEmbedding

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "graph is not fully connected" for a small k
        e = SpectralEmbedding(n_components=dim, affinity="nearest_neighbors", n_neighbors=n_neighbors,
                              random_state=seed).fit_transform(x.detach().cpu().double().numpy())
    e = torch.from_numpy(e).float()
    return (e / e.norm(dim=1, keepdim=True).clamp_min(1e-12) * dim ** 0.5).to(x.device)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's sharpened target: p_ik proportional to q_ik^2 / sum_i q_ik."""
    w = q.pow(2) / q.sum(0, keepdim=True)
    return w / w.sum(1, keepdim=True)


class AutoencoderKMeans(nn.Module):
    """(B, F) standardised features -> (B, 1 + D): nearest-centre index (as float), then the embedding."""

    def __init__(self, cfg: ClusteringConfig, n_features: int):
        super().__init__()
        dims = [n_features, *cfg.hidden, cfg.embedding]
        self.encoder = mlp(dims)
        self.decoder = mlp(dims[::-1])
        self.cfg, self.n_features = cfg, n_features
        self.register_buffer("centres", torch.zeros(cfg.n_clusters, cfg.embedding))  # set by finalize

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) -> (B, D)."""
        return self.encoder(x)

    def assign(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) embeddings -> (B,) index of the nearest centre."""
        return torch.cdist(z, self.centres).argmin(1)

    def soft_assign(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, K): the Student-t kernel to the centres, normalised over clusters (DEC's Q)."""
        a = self.cfg.alpha
        q = (1.0 + torch.cdist(z, self.centres).pow(2) / a).pow(-(a + 1) / 2)
        return q / q.sum(1, keepdim=True)

    def _noisy(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cfg.noise * torch.randn_like(x) if self.training and self.cfg.noise > 0 else x

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, F); y: (B, F) the clean input, or (B, F + D) with the spectral target appended. Returns
        (B, 1 + D) and, if y, reconstruction MSE (+ graph_weight x MSE to the target when y carries one)."""
        z = self.embed(x)  # (B, D)
        out = torch.cat([self.assign(z).unsqueeze(1).to(z.dtype), z], dim=1)  # (B, 1 + D)
        if y is None:
            return out, None
        clean, target = y[:, :self.n_features], y[:, self.n_features:]
        zn = self.embed(self._noisy(x)) if self.training and self.cfg.noise > 0 else z
        loss = F.mse_loss(self.decoder(zn), clean)
        if target.shape[1] and self.cfg.graph_weight > 0:
            loss = loss + self.cfg.graph_weight * F.mse_loss(zn, target)
        return out, loss

    def prepare(self, train, val):
        """Before training: the train targets become [x | spectral target of the train rows] (see the module)."""
        if self.cfg.graph_weight == 0:
            return train, val
        if not isinstance(getattr(train, "y", None), torch.Tensor):
            raise TypeError("clustering with graph_weight > 0 needs the train split in memory (not streamed)")
        s = spectral_target(train.x, self.cfg.embedding, self.cfg.n_neighbors, self.cfg.kmeans_seed)
        return type(train)(train.x, torch.cat([train.y, s], 1)), val

    def finalize(self, train, val) -> dict[str, float]:
        """KMeans on the train split's embedding for the centres, then IDEC refinement (see the module)."""
        from sklearn.cluster import KMeans

        was_training = self.training
        self.eval()
        x = train.x
        km = KMeans(len(self.centres), n_init=self.cfg.n_init,
                    random_state=self.cfg.kmeans_seed).fit(self.embed(x).detach().cpu().numpy())
        self.centres.copy_(torch.as_tensor(km.cluster_centers_, dtype=self.centres.dtype))
        with torch.enable_grad():
            steps, changed = self._refine(x)
        self.train(was_training)
        return {"kmeans_inertia": float(km.inertia_), "refine_steps": steps, "refine_changed": changed}

    def _refine(self, x: torch.Tensor) -> tuple[int, float]:
        """IDEC on the train rows: the centres become a parameter while refining, a buffer again after."""
        cfg = self.cfg
        if cfg.refine_steps == 0:
            return 0, 0.0
        centres = nn.Parameter(self.centres.clone())
        del self.centres
        self.centres = centres
        opt = torch.optim.Adam(self.parameters(), lr=cfg.refine_lr)
        prev, changed, step = None, 1.0, 0
        try:
            while step < cfg.refine_steps:
                if step % cfg.update_every == 0:
                    self.eval()
                    with torch.no_grad():
                        q = self.soft_assign(self.embed(x))
                    p, ids = target_distribution(q), q.argmax(1)
                    if prev is not None:
                        changed = float((ids != prev).float().mean())
                        if changed < cfg.tol:
                            break
                    prev = ids
                    self.train()
                idx = torch.randint(0, len(x), (cfg.refine_batch,), device=x.device)
                z = self.embed(self._noisy(x[idx]))
                kl = F.kl_div(self.soft_assign(z).clamp_min(1e-10).log(), p[idx], reduction="batchmean")
                loss = kl + cfg.refine_recon_weight * F.mse_loss(self.decoder(z), x[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
        finally:
            del self.centres
            self.register_buffer("centres", centres.detach().clone())
        return step, changed


def build(cfg: ClusteringConfig, input_shape: tuple[int, ...], n_outputs: int) -> AutoencoderKMeans:
    """Build for flat inputs of shape (F,)."""
    return AutoencoderKMeans(cfg, input_shape[0])
