"""Shape buckets shared by every jitted path (one compile per bucket, not per size)."""


def pow2_at_least(n: int, minimum: int = 1) -> int:
  """The smallest power of two >= max(n, 1), and at least `minimum`."""
  return max(minimum, 1 << (max(int(n), 1) - 1).bit_length())


def geometric_at_least(n: int, minimum: int = 1) -> int:
  """The smallest of 2^k and 1.5 x 2^k (k >= 1) that is >= max(n, minimum): at most a third
  of padding instead of a half, for about twice the buckets."""
  t = pow2_at_least(n, minimum)
  return t * 3 // 4 if t % 4 == 0 and t * 3 // 4 >= max(n, minimum) else t
