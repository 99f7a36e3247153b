"""Shape buckets shared by every jitted path (one compile per bucket, not per size)."""


def pow2_at_least(n: int, minimum: int = 1) -> int:
  """The smallest power of two >= max(n, 1), and at least `minimum`."""
  return max(minimum, 1 << max(0, (int(n) - 1).bit_length()))
