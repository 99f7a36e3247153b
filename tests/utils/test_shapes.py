"""Shape buckets: power-of-two and geometric (2^k, 1.5 x 2^k)."""
import itertools

from spice_jax.utils.shapes import geometric_at_least, pow2_at_least


def test_buckets_are_the_smallest_allowed_size():
  allowed_pow2 = [1 << k for k in range(12)]
  allowed_geo = sorted(set(allowed_pow2 + [3 << k for k in range(11)]))
  for n, minimum in itertools.product(range(0, 1025), (1, 4, 16)):
    want = min(a for a in allowed_pow2 if a >= max(n, minimum))
    assert pow2_at_least(n, minimum) == want
    want = min(a for a in allowed_geo if a >= max(n, minimum))
    assert geometric_at_least(n, minimum) == want, (n, minimum)
