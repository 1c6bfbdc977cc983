"""Text classifier after Kim (2014): token embedding -> 1-D convolutions of several widths -> ReLU ->
max-over-time pooling over the windows that touch a real token -> dropout -> linear, plus a "wide" linear bag
of the text's unigrams and hashed bigrams (fastText / NBSVM style) whose logits are added to the CNN's.

Padding invariance: PAD embeds to exactly zero, the convolutions are "wide" (zero padding width-1 on both
sides), windows holding no real token are masked out before the max, and the bag counts real tokens only, so
a text's logits do not depend on how much padding follows it. Bigrams are hashed from the token ids inside
the model: the input stays the text transform's (B, T) int64 ids (PAD=0 at the end, UNK=1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from components.core.strict import PositiveInt, Strict

PAD, UNK = 0, 1
_HASH = 1_000_003  # prime multiplier for bigram hashing (ids < 1e6: products stay well inside int64)


class TextCnnConfig(Strict):
    """Embedding -> convolutions of `widths` x `filters` -> max over time -> linear; + a linear n-gram bag."""

    embedding_dim: PositiveInt = 128
    widths: list[PositiveInt] = Field(default_factory=lambda: [3, 4, 5], min_length=1)  # in tokens
    filters: PositiveInt = 100  # feature maps per width
    dropout: float = Field(0.5, ge=0.0, lt=1.0)  # on the pooled vector
    embedding_dropout: float = Field(0.5, ge=0.0, lt=1.0)  # on the embeddings, training only
    token_dropout: float = Field(0.0, ge=0.0, lt=1.0)  # training only: real tokens replaced by UNK
    ngram_buckets: int = Field(2 ** 18, ge=0)  # hashed-bigram buckets of the bag; 0: no bag
    ngram_scale: float = Field(10.0, gt=0.0)  # bag output multiplier: a larger Adam step for its sparse weights
    bag_decay: float = Field(0.0, ge=0.0)  # L2 on the bag rows a batch touches (the bag only)
    nb_init: float = Field(0.0, ge=0.0)  # > 0: bag starts at this x the naive-Bayes log-count ratios (NBSVM)
    members: PositiveInt = 1  # independently initialised networks whose logits are averaged (a seed ensemble)


class NgramBag(nn.Module):
    """(B, T) ids -> (B, K) logits: scale * (sum of the weights of the real unigrams and bigrams) / sqrt(count)."""

    def __init__(self, vocab_size: int, n_classes: int, buckets: int, scale: float):
        super().__init__()
        self.vocab_size, self.buckets, self.scale = vocab_size, buckets, scale
        self.weight = nn.Embedding(vocab_size + buckets, n_classes)  # unigram rows, then bigram buckets
        nn.init.zeros_(self.weight.weight)  # starts as a no-op

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) ids -> feature ids (B, 2T-1) and their 0/1 mask (real tokens and pairs of real tokens)."""
        real = x != PAD
        bigram = self.vocab_size + (x[:, :-1] * _HASH + x[:, 1:]) % self.buckets  # (B, T-1)
        return torch.cat([x, bigram], 1), torch.cat([real, real[:, :-1] & real[:, 1:]], 1).float()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the logits (B, K) and the mean squared norm of the rows used (for `bag_decay`)."""
        ids, keep = self.features(x)
        w = self.weight(ids) * keep.unsqueeze(-1)  # (B, 2T-1, K)
        n = keep.sum(1, keepdim=True).clamp(min=1)
        return self.scale * w.sum(1) / n.sqrt(), (w.pow(2).sum(-1).sum(1) / n.squeeze(1)).mean()

    @torch.no_grad()
    def nb_init(self, x: torch.Tensor, y: torch.Tensor, n_classes: int, strength: float, alpha: float = 1.0) -> None:
        """Set the weights to `strength` x the naive-Bayes log-count ratios of binarised features (Wang & Manning
        2012), centred over classes: w[f, c] = log p(f | c) - mean_c' log p(f | c')."""
        ids, keep = self.features(x)
        size = self.weight.num_embeddings
        rows = torch.arange(len(x)).unsqueeze(1).expand_as(ids)[keep > 0]
        pairs = torch.unique(rows * size + ids[keep > 0])  # binarised: a feature counts once per text
        counts = torch.full((n_classes, size), alpha)
        counts.index_put_((y[pairs // size], pairs % size), torch.ones(len(pairs)), accumulate=True)  # (K, F)
        logp = (counts / counts.sum(1, keepdim=True)).log()
        self.weight.weight.copy_((logp - logp.mean(0)).T * strength / self.scale)


class _Member(nn.Module):
    """One CNN + bag."""

    def __init__(self, cfg: TextCnnConfig, vocab_size: int, n_classes: int):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(vocab_size, cfg.embedding_dim, padding_idx=PAD)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.embedding_dim, cfg.filters, w, padding=w - 1) for w in cfg.widths)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.filters * len(cfg.widths), n_classes)
        self.bag = NgramBag(vocab_size, n_classes, cfg.ngram_buckets, cfg.ngram_scale) if cfg.ngram_buckets else None

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T) ids -> (B, filters * len(widths)) pooled features."""
        lengths = (x != PAD).sum(1).clamp(min=1)  # (B,); an all-PAD row reads as one (zero) token
        emb = F.dropout(self.embedding(x), self.cfg.embedding_dropout, self.training).transpose(1, 2)  # (B, E, T)
        pooled = []
        for conv, w in zip(self.convs, self.cfg.widths, strict=True):
            h = F.relu(conv(emb))  # (B, F, T + w - 1): window j covers tokens j-w+1 .. j
            valid = torch.arange(h.shape[2], device=x.device)[None, :] < (lengths + w - 1)[:, None]  # (B, T+w-1)
            pooled.append(h.masked_fill(~valid[:, None, :], float("-inf")).max(2).values)  # (B, F)
        return torch.cat(pooled, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) -> logits (B, K) and the bag's weight penalty (0 without a bag)."""
        if self.training and self.cfg.token_dropout:
            hit = (torch.rand(x.shape, device=x.device) < self.cfg.token_dropout) & (x != PAD)
            x = x.masked_fill(hit, UNK)
        logits = self.head(self.dropout(self.encode(x)))
        if self.bag is None:
            return logits, logits.new_zeros(())
        bag, penalty = self.bag(x)
        return logits + bag, penalty


class TextCnn(nn.Module):
    """(B, T) int64 token ids, 0-padded at the end -> (B, n_classes) logits (the mean over `members`)."""

    def __init__(self, cfg: TextCnnConfig, vocab_size: int, n_classes: int):
        super().__init__()
        self.cfg, self.n_classes = cfg, n_classes
        self.members = nn.ModuleList(_Member(cfg, vocab_size, n_classes) for _ in range(cfg.members))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T) int64; y: (B,) int64 class indices. Returns logits (B, K) and, if y, the members' mean loss
        (cross-entropy + bag_decay x penalty): each member learns on its own, as if trained alone."""
        if not torch.jit.is_tracing():  # a traced graph (ONNX export) must keep every column: its width varies
            x = x[:, : max(int((x != PAD).sum(1).max()), 1)]  # drop the columns that are padding in every row
        outs = [m(x) for m in self.members]
        logits = torch.stack([o[0] for o in outs]).mean(0)  # (B, K)
        if y is None:
            return logits, None
        loss = torch.stack([F.cross_entropy(lg, y) + self.cfg.bag_decay * pen for lg, pen in outs]).mean()
        return logits, loss

    def prepare(self, train, val):
        """Before training: with `nb_init`, start every member's bag at the train split's naive-Bayes ratios."""
        if self.cfg.nb_init and self.cfg.ngram_buckets:
            for m in self.members:
                m.bag.nb_init(train.x.cpu(), train.y.cpu(), self.n_classes, self.cfg.nb_init)
        return train, val


def build(cfg: TextCnnConfig, input_shape: tuple[int, ...], n_outputs: int, vocab_size: int) -> TextCnn:
    """Build for (T,) token-id inputs over a vocabulary of `vocab_size` ids (PAD and UNK included)."""
    return TextCnn(cfg, vocab_size, n_outputs)
