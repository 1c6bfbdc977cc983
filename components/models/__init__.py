"""Model families: one file each, holding the family's config class and its nn.Module (torch + core only)."""
