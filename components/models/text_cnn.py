"""Text classifier after Kim (2014): token embedding -> 1-D convolutions of several widths -> ReLU ->
max-over-time pooling over the windows that touch a real token -> dropout -> linear, plus, on the text's
unigrams and hashed bigrams, a "wide" linear bag (fastText style) and/or multinomial naive Bayes (Wang &
Manning 2012) whose logits are added to the CNN's. The naive-Bayes counts come from the train split (the
`prepare` hook); in training each text's own counts are left out, so the CNN learns what naive Bayes gets
wrong on unseen text instead of leaning on counts that already hold the text's label.

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
    learn_bag: bool = True  # False: the bag has no weights of its own (its n-grams feed naive Bayes only)
    bag_decay: float = Field(0.0, ge=0.0)  # L2 on the bag rows a batch touches (the bag only)
    nb_init: float = Field(0.0, ge=0.0)  # > 0: bag starts at this x the naive-Bayes log-count ratios (NBSVM)
    nb_weight: float = Field(0.0, ge=0.0)  # > 0: add naive-Bayes logits (leave-one-out in training) x a learned
    # scale starting here; the counts are the train split's, kept in the model
    members: PositiveInt = 1  # independently initialised networks whose logits are averaged (a seed ensemble)


class NgramBag(nn.Module):
    """(B, T) ids -> (B, K) logits: scale * (sum of the weights of the real unigrams and bigrams) / sqrt(count)."""

    def __init__(self, vocab_size: int, n_classes: int, buckets: int, scale: float, learned: bool = True):
        super().__init__()
        self.vocab_size, self.buckets, self.scale = vocab_size, buckets, scale
        self.weight = nn.Embedding(vocab_size + buckets, n_classes) if learned else None  # unigrams, then bigrams
        if self.weight is not None:
            nn.init.zeros_(self.weight.weight)  # starts as a no-op

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) ids -> feature ids (B, 2T-1) and their 0/1 mask (real tokens and pairs of real tokens)."""
        real = x != PAD
        bigram = self.vocab_size + (x[:, :-1] * _HASH + x[:, 1:]) % self.buckets  # (B, T-1)
        return torch.cat([x, bigram], 1), torch.cat([real, real[:, :-1] & real[:, 1:]], 1).float()

    def forward(self, ids: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`features`' ids and mask -> the logits (B, K) and the mean squared norm of the rows used (for
        `bag_decay`); zeros when the bag has no weights (a (1, 1) zero that broadcasts: no batch size frozen into
        a traced ONNX graph)."""
        if self.weight is None:
            return keep.new_zeros((1, 1)), keep.new_zeros(())
        w = self.weight(ids) * keep.unsqueeze(-1)  # (B, 2T-1, K)
        n = keep.sum(1, keepdim=True).clamp(min=1)
        return self.scale * w.sum(1) / n.sqrt(), (w.pow(2).sum(-1).sum(1) / n.squeeze(1)).mean()

    @torch.no_grad()
    def nb_init(self, counts: torch.Tensor, strength: float, alpha: float = 1.0) -> None:
        """Set the weights to `strength` x the naive-Bayes log-count ratios of binarised features (Wang & Manning
        2012), centred over classes: w[f, c] = log p(f | c) - mean_c' log p(f | c'). `counts`: `doc_counts` of
        the train split (K, vocab + buckets)."""
        counts = alpha + counts  # (K, F)
        logp = (counts / counts.sum(1, keepdim=True)).log()
        self.weight.weight.copy_((logp - logp.mean(0)).T * strength / self.scale)


def doc_counts(ids: torch.Tensor, keep: torch.Tensor, y: torch.Tensor, n_classes: int, size: int) -> torch.Tensor:
    """(K, size): how many texts of each class hold each feature (binarised: once per text), from
    NgramBag.features' ids and mask and the class indices `y`."""
    rows = torch.arange(len(ids)).unsqueeze(1).expand_as(ids)[keep > 0]
    pairs = torch.unique(rows * size + ids[keep > 0])
    counts = torch.zeros(n_classes, size)
    counts.index_put_((y[pairs // size], pairs % size), torch.ones(len(pairs)), accumulate=True)
    return counts


class NaiveBayes(nn.Module):
    """Multinomial naive Bayes over the bag's binarised features, as logits x a learned scale. The per-class
    document frequencies of the train split are a buffer (set by `fit`, saved with the weights). In training
    (`y` given) each text's own counts are left out of them, so the logits a text gets in training are as
    honest as on unseen text: the rest of the model learns what naive Bayes misses, not to trust its memory."""

    def __init__(self, n_features: int, n_classes: int, weight: float, alpha: float = 1.0):
        super().__init__()
        self.alpha = alpha
        self.register_buffer("counts", torch.zeros(n_classes, n_features))  # texts of class c holding feature f
        self.scale = nn.Parameter(torch.tensor(float(weight)))

    @torch.no_grad()
    def fit(self, counts: torch.Tensor) -> None:
        """Keep the train split's per-class document frequencies (`doc_counts`: each feature once per text)."""
        self.counts.copy_(counts)

    def forward(self, ids: torch.Tensor, keep: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L) feature ids and mask -> (B, K) centred log-likelihoods x scale; `y`: leave each text out."""
        c = self.counts[:, ids].permute(1, 2, 0)  # (B, L, K)
        if y is not None:
            c = (c - F.one_hot(y, c.shape[2]).unsqueeze(1).to(c.dtype)).clamp(min=0)
        total = self.counts.sum(1) + self.alpha * self.counts.shape[1]  # (K,)
        logp = ((c + self.alpha).log() - total.log()) * keep.unsqueeze(-1)
        ll = logp.sum(1)
        return self.scale * (ll - ll.mean(1, keepdim=True))


class _Member(nn.Module):
    """One CNN + bag."""

    def __init__(self, cfg: TextCnnConfig, vocab_size: int, n_classes: int):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(vocab_size, cfg.embedding_dim, padding_idx=PAD)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.embedding_dim, cfg.filters, w, padding=w - 1) for w in cfg.widths)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.filters * len(cfg.widths), n_classes)
        self.bag = (NgramBag(vocab_size, n_classes, cfg.ngram_buckets, cfg.ngram_scale, cfg.learn_bag)
                    if cfg.ngram_buckets else None)
        self.nb = (NaiveBayes(vocab_size + cfg.ngram_buckets, n_classes, cfg.nb_weight)
                   if cfg.nb_weight and cfg.ngram_buckets else None)

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

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) -> logits (B, K) and the bag's weight penalty (0 without a bag); `y` in training: naive Bayes
        leaves each text out."""
        if self.training and self.cfg.token_dropout:
            hit = (torch.rand(x.shape, device=x.device) < self.cfg.token_dropout) & (x != PAD)
            x = x.masked_fill(hit, UNK)
        logits = self.head(self.dropout(self.encode(x)))
        if self.bag is None:
            return logits, logits.new_zeros(())
        ids, keep = self.bag.features(x)  # once, for the bag and naive Bayes
        bag, penalty = self.bag(ids, keep)
        if self.nb is not None:
            bag = bag + self.nb(ids, keep, y if self.training else None)
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
        outs = [m(x, y) for m in self.members]
        logits = torch.stack([o[0] for o in outs]).mean(0)  # (B, K)
        if y is None:
            return logits, None
        loss = torch.stack([F.cross_entropy(lg, y) + self.cfg.bag_decay * pen for lg, pen in outs]).mean()
        return logits, loss

    def prepare(self, train, val):
        """Before training, from the train split: with `nb_init`, start every member's bag at the naive-Bayes
        ratios; with `nb_weight`, fill every member's naive-Bayes counts (the split's n-gram counts are taken
        once, for every member)."""
        init = bool(self.cfg.nb_init and self.cfg.ngram_buckets and self.cfg.learn_bag)
        if not (init or self.members[0].nb is not None):
            return train, val
        bag = self.members[0].bag  # every member's bag hashes alike
        counts = doc_counts(*bag.features(train.x.cpu()), train.y.cpu(), self.n_classes,
                            bag.vocab_size + bag.buckets)  # (K, vocab + buckets)
        for m in self.members:
            if init:
                m.bag.nb_init(counts, self.cfg.nb_init)
            if m.nb is not None:
                m.nb.fit(counts)
        return train, val


def build(cfg: TextCnnConfig, input_shape: tuple[int, ...], n_outputs: int, vocab_size: int) -> TextCnn:
    """Build for (T,) token-id inputs over a vocabulary of `vocab_size` ids (PAD and UNK included)."""
    return TextCnn(cfg, vocab_size, n_outputs)
