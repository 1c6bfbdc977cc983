"""Text classifier: token embedding -> (bi)GRU over packed sequences -> max/mean pooling over the real
tokens -> linear. Padding (id 0) never reaches the GRU, so the prediction does not depend on how much
padding follows a text."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from components.core.strict import PositiveInt, Strict


class TextGruConfig(Strict):
    """Embedding -> (bi)GRU over packed sequences -> max/mean pooling over real tokens -> linear."""

    embedding_dim: PositiveInt = 128
    hidden: PositiveInt = 64
    layers: PositiveInt = 1
    bidirectional: bool = True
    pooling: Literal["max", "mean", "maxmean", "last"] = "maxmean"
    dropout: float = Field(0.5, ge=0.0, lt=1.0)  # on embeddings and on the pooled vector
    token_dropout: float = Field(0.0, ge=0.0, lt=1.0)  # training only: whole tokens zeroed
    freeze_embedding: bool = False  # keep the embedding at its random init (DP: no per-sample grads for it)
    pooled_norm: bool = False  # LayerNorm on the pooled vector (DP: smaller, steadier per-sample gradients)


PAD = 0


class TextGru(nn.Module):
    """(B, T) int64 token ids, 0-padded at the end -> (B, n_classes) logits."""

    def __init__(self, cfg: TextGruConfig, vocab_size: int, n_classes: int):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(vocab_size, cfg.embedding_dim, padding_idx=PAD)
        self.gru = nn.GRU(cfg.embedding_dim, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                          bidirectional=cfg.bidirectional, dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.dropout = nn.Dropout(cfg.dropout)
        width = cfg.hidden * (2 if cfg.bidirectional else 1)
        width *= 2 if cfg.pooling == "maxmean" else 1
        self.norm = nn.LayerNorm(width) if cfg.pooled_norm else nn.Identity()
        self.head = nn.Linear(width, n_classes)
        self.embedding.weight.requires_grad_(not cfg.freeze_embedding)

    def by_length(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, T) ids -> (order, lengths[order]): rows longest first (stable), and their lengths."""
        lengths = (x != PAD).sum(1).clamp(min=1)  # (B,); an all-padding row is read as one PAD token
        if torch.jit.is_tracing():  # ONNX has no stable sort; any order of equal lengths gives the same logits
            return (order := torch.argsort(lengths, descending=True)), lengths[order]
        order = torch.sort(lengths, descending=True, stable=True).indices
        return order, lengths[order]

    def encode_sorted(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: (B, T) ids, rows longest first; lengths: (B,) descending -> (B, D) pooled text vectors."""
        if not torch.jit.is_tracing():  # a traced graph (ONNX export) keeps every column (packing skips padding)
            x = x[:, : int(lengths[0])]  # drop the columns that are padding in every row
        positions = torch.arange(x.shape[1], device=x.device)
        mask = (positions[None, :] < lengths[:, None]).unsqueeze(-1)  # (B, T', 1): the tokens the GRU reads
        if self.training and self.cfg.token_dropout:
            x = x.masked_fill(torch.rand(x.shape, device=x.device) < self.cfg.token_dropout, 1)  # -> UNK
        emb = self.dropout(self.embedding(x))  # (B, T', E)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=True)
        out, h_n = self.gru(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, T', H*dirs)
        if self.cfg.pooling == "last":  # final hidden state of the last layer, both directions
            dirs = 2 if self.cfg.bidirectional else 1
            return self.norm(torch.cat(list(h_n[-dirs:]), dim=1))  # (B, H*dirs)
        pooled = []
        if self.cfg.pooling in ("max", "maxmean"):
            pooled.append(out.masked_fill(~mask, float("-inf")).max(1).values)  # (B, H*dirs)
        if self.cfg.pooling in ("mean", "maxmean"):
            pooled.append((out * mask).sum(1) / lengths.unsqueeze(-1).to(out.dtype))  # (B, H*dirs)
        return self.norm(torch.cat(pooled, dim=1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T) ids -> (B, D) pooled text vectors, in the rows' order."""
        order, lengths = self.by_length(x)
        return self.encode_sorted(x[order], lengths)[torch.argsort(order)]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T) ids -> (B, D): the pooled text vector the head reads (drift monitoring compares these)."""
        return self.encode(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T) int64; y: (B,) int64 class indices. Returns logits (B, K) and the CE loss if y.

        Every layer sees the rows in one order, longest first, and only the logits go back to the caller's
        order: per-sample gradients (DP-SGD, components/training/privacy.py) then belong to one row each.
        (Packing with enforce_sorted=False would put the GRU's rows in length order and the embedding's and
        the head's in batch order, and Opacus would clip mixtures of two rows' gradients.)"""
        order, lengths = self.by_length(x)
        logits = self.head(self.dropout(self.encode_sorted(x[order], lengths)))  # (B, K), longest first
        loss = F.cross_entropy(logits, y[order]) if y is not None else None
        return logits[torch.argsort(order)], loss


def build(cfg: TextGruConfig, input_shape: tuple[int, ...], n_outputs: int, vocab_size: int) -> TextGru:
    """Build for (T,) token-id inputs over a vocabulary of `vocab_size` ids (PAD and UNK included)."""
    return TextGru(cfg, vocab_size, n_outputs)
