"""Writes the bundled demo corpus: short, fact-dense documents on elementary maths and science.

  python tools/demo_corpus.py     # rewrites spice_jax/data/demo_corpus/*.jsonl.gz

A tool, not part of the runtime package: the generated files are shipped as package data
(`spice_jax.data.demo_corpus_dir()`), and tests/data/test_demo_corpus.py checks that this
script reproduces them byte for byte and re-checks every arithmetic claim.

Every number in a document is computed here (exact integer / Fraction arithmetic where
possible, stated rounding otherwise), so the facts are right by construction; constants
are standard values (g = 9.8 m/s^2 as stated in the text, exact unit definitions,
IUPAC conventional atomic weights). Output is deterministic (fixed seed, gzip mtime 0):
one `<topic>.jsonl.gz` per topic with records {id, topic, title, text}.
"""

from __future__ import annotations

import decimal
import gzip
import io
import json
import math
import os
import random
from fractions import Fraction

decimal.getcontext().prec = 50
SEED = 20251028
OUT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "spice_jax",
                       "data", "demo_corpus")
TOPICS = ("arithmetic", "algebra", "geometry", "units", "physics", "chemistry")
PER_FAMILY = 5
MIN_WORDS, MAX_WORDS = 100, 500


def num(x, nd: int = 2) -> str:
  """Number as text: integers plainly, others rounded to nd decimals (trailing zeros cut)."""
  if isinstance(x, Fraction) and x.denominator == 1:
    x = x.numerator
  if isinstance(x, int):
    return str(x)
  # Round half up from the exact value (Fraction) or the float's shortest repr.
  d = (decimal.Decimal(x.numerator) / decimal.Decimal(x.denominator)
       if isinstance(x, Fraction) else decimal.Decimal(repr(float(x))))
  s = format(d.quantize(decimal.Decimal(1).scaleb(-nd), rounding=decimal.ROUND_HALF_UP), "f")
  if "." in s:
    s = s.rstrip("0").rstrip(".")
  return "0" if s == "-0" else s


def frac(f: Fraction) -> str:
  return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def factorize(n: int) -> dict[int, int]:
  out, p = {}, 2
  while p * p <= n:
    while n % p == 0:
      out[p] = out.get(p, 0) + 1
      n //= p
    p += 1
  if n > 1:
    out[n] = out.get(n, 0) + 1
  return out


def factor_str(f: dict[int, int]) -> str:
  return " × ".join(f"{p}^{e}" if e > 1 else str(p) for p, e in sorted(f.items()))


def sci(x: float, sig: int = 4) -> str:
  """x as `a × 10^n` with 1 <= a < 10, `sig` significant figures (half-up)."""
  d = decimal.Decimal(repr(float(x)))
  e = d.adjusted()
  m = (d.scaleb(-e)).quantize(decimal.Decimal(1).scaleb(-(sig - 1)),
                              rounding=decimal.ROUND_HALF_UP)
  if m >= 10:
    m, e = m / 10, e + 1
  return f"{num(Fraction(str(m)), sig - 1)} × 10^{e}"


def plural(n) -> str:
  return "" if n == 1 else "s"


def ordinal(n: int) -> str:
  suf = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
  return f"{n}{suf}"


# =========================================================================================
# Arithmetic


def a_prime_factors(r: random.Random):
  while True:
    n = r.randint(120, 9999)
    f = factorize(n)
    if len(f) >= 2 and max(f) < 100:
      break
  ndiv = math.prod(e + 1 for e in f.values())
  sdiv = math.prod((p ** (e + 1) - 1) // (p - 1) for p, e in f.items())
  divs = sorted(d for d in range(1, n + 1) if n % d == 0)
  sq = math.isqrt(n) ** 2 == n
  kind = "perfect" if sdiv - n == n else ("abundant" if sdiv - n > n else "deficient")
  text = (
      f"Every whole number greater than 1 is either prime or can be written as a product of "
      f"primes in exactly one way, apart from the order of the factors. This is the "
      f"fundamental theorem of arithmetic. Take the number {n}. Dividing repeatedly by the "
      f"smallest prime that goes in evenly gives the prime factorization {n} = {factor_str(f)}."
      f"\n\nThe factorization tells us how many divisors {n} has: add one to each exponent and "
      f"multiply, which gives {' × '.join(str(e + 1) for e in f.values())} = {ndiv} divisors. "
      f"The smallest divisors are {', '.join(map(str, divs[:5]))} and the largest proper "
      f"divisor is {divs[-2]}. The sum of all divisors of {n}, including {n} itself, is "
      f"{sdiv}, so the sum of its proper divisors is {sdiv - n}. Because this is "
      f"{'equal to' if kind == 'perfect' else ('greater than' if kind == 'abundant' else 'less than')}"
      f" {n}, the number is called {kind}.\n\n"
      f"{n} is {'a perfect square, since ' + str(math.isqrt(n)) + ' × ' + str(math.isqrt(n)) + ' = ' + str(n) if sq else 'not a perfect square: it lies between ' + str(math.isqrt(n)) + '^2 = ' + str(math.isqrt(n) ** 2) + ' and ' + str(math.isqrt(n) + 1) + '^2 = ' + str((math.isqrt(n) + 1) ** 2)}. "
      f"It is {'even' if n % 2 == 0 else 'odd'}, and its digit sum is "
      f"{sum(map(int, str(n)))}, so it {'is' if n % 3 == 0 else 'is not'} divisible by 3 and "
      f"{'is' if n % 9 == 0 else 'is not'} divisible by 9. The largest prime factor of {n} "
      f"is {max(f)} and the smallest is {min(f)}.")
  return f"The prime factorization of {n}", text


def a_gcd_lcm(r: random.Random):
  g = r.choice([6, 8, 9, 12, 14, 15, 18, 21, 24, 28])
  while True:
    a, b = g * r.randint(3, 40), g * r.randint(3, 40)
    if a != b and a % b and b % a:
      break
  a, b = max(a, b), min(a, b)
  steps, x, y = [], a, b
  while y:
    q, rem = divmod(x, y)
    steps.append(f"{x} = {q} × {y} + {rem}")
    x, y = y, rem
  gcd = x
  lcm = a * b // gcd
  text = (
      f"The greatest common divisor (GCD) of two whole numbers is the largest number that "
      f"divides both of them, and the least common multiple (LCM) is the smallest positive "
      f"number that both divide. Euclid's algorithm finds the GCD by repeated division with "
      f"remainder: replace the larger number by the remainder until the remainder is zero.\n\n"
      f"For {a} and {b} the steps are: {'; '.join(steps)}. The last non-zero remainder is "
      f"{gcd}, so gcd({a}, {b}) = {gcd}. The algorithm needed {len(steps)} divisions.\n\n"
      f"The GCD and LCM are linked by the identity gcd(a, b) × lcm(a, b) = a × b. Here "
      f"a × b = {a * b}, so lcm({a}, {b}) = {a * b} / {gcd} = {lcm}. As a check, "
      f"{lcm} / {a} = {lcm // a} and {lcm} / {b} = {lcm // b}, and these two quotients share "
      f"no common factor. The fraction {a}/{b} reduces to lowest terms by dividing top and "
      f"bottom by the GCD: {a}/{b} = {a // gcd}/{b // gcd}. Two numbers whose GCD is 1 are "
      f"called coprime; {a // gcd} and {b // gcd} are coprime.")
  return f"GCD and LCM of {a} and {b}", text


def a_fractions(r: random.Random):
  while True:
    p = Fraction(r.randint(1, 11), r.choice([3, 4, 5, 6, 7, 8, 9, 12]))
    q = Fraction(r.randint(1, 11), r.choice([3, 4, 5, 6, 8, 10, 15]))
    if p.denominator > 1 and q.denominator > 1 and p != q and p.denominator != q.denominator:
      break
  common = p.denominator * q.denominator // math.gcd(p.denominator, q.denominator)
  s, d, m, qq = p + q, p - q, p * q, p / q
  text = (
      f"To add or subtract fractions, rewrite them over a common denominator. The fractions "
      f"{frac(p)} and {frac(q)} have denominators {p.denominator} and {q.denominator}; their "
      f"least common denominator is {common}. Then {frac(p)} = "
      f"{p.numerator * common // p.denominator}/{common} and {frac(q)} = "
      f"{q.numerator * common // q.denominator}/{common}.\n\n"
      f"Sum: {frac(p)} + {frac(q)} = {frac(s)}"
      f"{' (as a decimal about ' + num(float(s), 4) + ')' if s.denominator != 1 else ''}. "
      f"Difference: {frac(p)} − {frac(q)} = {frac(d)}. "
      f"Product: multiply numerators and denominators, {frac(p)} × {frac(q)} = {frac(m)} in "
      f"lowest terms. Quotient: multiply by the reciprocal, {frac(p)} ÷ {frac(q)} = "
      f"{frac(p)} × {q.denominator}/{q.numerator} = {frac(qq)}.\n\n"
      f"As decimals, {frac(p)} ≈ {num(float(p), 4)} and {frac(q)} ≈ {num(float(q), 4)}, so "
      f"the {'first' if p > q else 'second'} fraction is larger. A fraction in lowest terms "
      f"has a terminating decimal expansion exactly when its denominator has no prime "
      f"factors other than 2 and 5; {frac(p)} "
      f"{'terminates' if set(factorize(p.denominator)) <= {2, 5} else 'repeats'} and "
      f"{frac(q)} {'terminates' if set(factorize(q.denominator)) <= {2, 5} else 'repeats'}.")
  return f"Working with the fractions {frac(p)} and {frac(q)}", text


def a_percent(r: random.Random):
  price = r.choice([40, 60, 80, 120, 150, 200, 240, 250, 320, 480, 500, 640, 800])
  disc = r.choice([10, 15, 20, 25, 30, 40])
  tax = r.choice([5, 8, 10, 20])
  after = Fraction(price) * (100 - disc) / 100
  final = after * (100 + tax) / 100
  up, down = r.choice([(10, 10), (20, 20), (25, 20), (50, 50), (30, 10)])
  net = Fraction(100 + up, 100) * Fraction(100 - down, 100)
  text = (
      f"A percentage is a fraction with denominator 100, so {disc}% means {disc}/100 = "
      f"{num(disc / 100)}. To take {disc}% off a price, multiply by (100 − {disc})/100 = "
      f"{num((100 - disc) / 100)}.\n\n"
      f"Example: a jacket costs {price} dollars and is discounted by {disc}%. The discount is "
      f"{num(price * disc / 100)} dollars, so the sale price is {num(after)} dollars. If a "
      f"sales tax of {tax}% is then added, the customer pays {num(after)} × "
      f"{num((100 + tax) / 100)} = {num(final)} dollars. Applying the tax first and the "
      f"discount second gives the same result, because multiplication is commutative.\n\n"
      f"Successive percentage changes multiply rather than add. A quantity that rises by "
      f"{up}% and then falls by {down}% ends at {num((100 + up) / 100)} × "
      f"{num((100 - down) / 100)} = {num(net, 4)} of its starting value, a net change of "
      f"{num((net - 1) * 100)}%. For example 1000 units become {num(1000 * net)} units. "
      f"Percentage points are different from percent: a rate moving from {disc}% to "
      f"{disc + 5}% rose by 5 percentage points, which is a relative increase of "
      f"{num(Fraction(5, disc) * 100)}%.")
  return f"Discounts, tax and successive percentage changes ({disc}% off {price} dollars)", text


def a_mean_median(r: random.Random):
  k = r.choice([7, 8, 9, 10])
  data = [r.randint(2, 60) for _ in range(k)]
  data[r.randrange(1, k)] = data[0]  # at least one repeat, so there is a mode
  srt = sorted(data)
  mean = Fraction(sum(data), k)
  median = Fraction(srt[k // 2]) if k % 2 else Fraction(srt[k // 2 - 1] + srt[k // 2], 2)
  counts = {v: data.count(v) for v in data}
  top = max(counts.values())
  modes = sorted(v for v, c in counts.items() if c == top)
  var = sum((x - mean) ** 2 for x in data) / k
  text = (
      f"Measures of centre summarise a data set with one number. Consider the {k} values "
      f"{', '.join(map(str, data))}. In increasing order they are {', '.join(map(str, srt))}."
      f"\n\nThe mean is the sum divided by the count: {sum(data)} / {k} = {frac(mean)}"
      f"{' ≈ ' + num(float(mean)) if mean.denominator != 1 else ''}. The median is the middle "
      f"value of the ordered list; with {k} values it is "
      f"{'the ' + ordinal(k // 2 + 1) + ' value, ' + num(median) if k % 2 else 'the average of the ' + ordinal(k // 2) + ' and ' + ordinal(k // 2 + 1) + ' values, (' + str(srt[k // 2 - 1]) + ' + ' + str(srt[k // 2]) + ') / 2 = ' + num(median)}. "
      f"The mode is the most frequent value: {' and '.join(map(str, modes))}, appearing "
      f"{top} times. The range is the largest minus the smallest value, {srt[-1]} − {srt[0]} "
      f"= {srt[-1] - srt[0]}.\n\n"
      f"The population variance is the mean of the squared deviations from the mean, here "
      f"{num(float(var), 3)}, and the standard deviation is its square root, about "
      f"{num(math.sqrt(var), 3)}. Adding the same constant to every value shifts the mean and "
      f"median by that constant but leaves the range and the standard deviation unchanged; "
      f"multiplying every value by 2 doubles the mean, the median, the range and the "
      f"standard deviation.")
  return f"Mean, median, mode and range of {k} numbers", text


def a_bases(r: random.Random):
  n = r.randint(37, 1000)
  b = bin(n)[2:]
  h = hex(n)[2:].upper()
  o = oct(n)[2:]
  powers = [2 ** i for i in range(len(b) - 1, -1, -1) if b[len(b) - 1 - i] == "1"]
  text = (
      f"In positional notation each digit is multiplied by a power of the base. The decimal "
      f"number {n} is written {b} in binary (base 2), {o} in octal (base 8) and {h} in "
      f"hexadecimal (base 16).\n\n"
      f"To convert {n} to binary, write it as a sum of distinct powers of two: {n} = "
      f"{' + '.join(map(str, powers))}. Each power present gives a 1 digit and each missing "
      f"power a 0, which gives {b}. The binary form has {len(b)} digits and contains "
      f"{b.count('1')} ones, so {n} lies between 2^{len(b) - 1} = {2 ** (len(b) - 1)} and "
      f"2^{len(b)} = {2 ** len(b)}.\n\n"
      f"Hexadecimal uses the digits 0 to 9 and the letters A to F for ten to fifteen. Every "
      f"hexadecimal digit stands for exactly four binary digits, so grouping the bits of "
      f"{b} in fours from the right gives {' '.join(b.zfill(-(-len(b) // 4) * 4)[i:i + 4] for i in range(0, -(-len(b) // 4) * 4, 4))}"
      f", which reads as {h}. Similarly each octal digit stands for three bits. Checking the "
      f"octal form: {' + '.join(f'{d} × 8^{len(o) - 1 - i}' for i, d in enumerate(o))} = {n}."
      f" One byte holds 8 bits, so the largest value it can store is 2^8 − 1 = 255, which "
      f"is FF in hexadecimal; {n} {'fits' if n <= 255 else 'does not fit'} in one byte.")
  return f"The number {n} in binary, octal and hexadecimal", text


def a_division(r: random.Random):
  d = r.choice([7, 11, 12, 13, 17, 19, 23, 24, 25, 36])
  n = r.randint(1000, 99999)
  q, rem = divmod(n, d)
  rules = []
  for k, rule in ((2, "its last digit is even"), (4, "its last two digits form a multiple of 4"),
                  (5, "its last digit is 0 or 5"), (8, "its last three digits form a multiple of 8"),
                  (3, "its digit sum is a multiple of 3"), (9, "its digit sum is a multiple of 9"),
                  (11, "the alternating sum of its digits is a multiple of 11")):
    rules.append(f"{k} ({'yes' if n % k == 0 else 'no'})")
  digits = list(map(int, str(n)))
  alt = sum(v if i % 2 == 0 else -v for i, v in enumerate(reversed(digits)))
  text = (
      f"Division with remainder writes any whole number n as n = q × d + r with "
      f"0 ≤ r < d. Dividing {n} by {d} gives quotient {q} and remainder {rem}, because "
      f"{q} × {d} = {q * d} and {q * d} + {rem} = {n}. As a decimal, {n} / {d} ≈ "
      f"{num(n / d, 4)}. The next multiple of {d} above {n} is {(q + 1) * d}, which is "
      f"{(q + 1) * d - n} more than {n}.\n\n"
      f"Divisibility rules give quick answers without long division. A number is divisible "
      f"by 2 if its last digit is even, by 4 if its last two digits form a multiple of 4, by "
      f"5 if it ends in 0 or 5, by 3 or 9 if its digit sum is a multiple of 3 or 9, and by "
      f"11 if the alternating sum of its digits is a multiple of 11. For {n} the digit sum is "
      f"{sum(digits)} and the alternating digit sum (from the units digit) is {alt}. "
      f"Divisible by: {', '.join(rules)}.\n\n"
      f"In modular arithmetic we write {n} ≡ {rem} (mod {d}). Remainders can be combined: "
      f"since {n} ≡ {rem} (mod {d}), the number {2 * n} leaves remainder {(2 * rem) % d} and "
      f"{n}^2 leaves remainder {(rem * rem) % d} when divided by {d}.")
  return f"Dividing {n} by {d}: quotient, remainder and divisibility", text


def a_sci_notation(r: random.Random):
  mant = r.randint(1001, 9999)
  exp = r.choice([-7, -6, -5, -4, 5, 6, 7, 8, 9])
  value = Fraction(mant, 1000) * Fraction(10) ** exp
  plain = (f"{int(value)}" if exp >= 3 else f"{float(value):.{-exp + 3}f}")
  m2 = Fraction(r.randint(11, 99), 10)
  e2 = r.randint(2, 6)
  prod = value * m2 * Fraction(10) ** e2
  pe = math.floor(math.log10(prod))
  pm = prod / Fraction(10) ** pe
  sig3 = f"{float(value):.2e}"
  text = (
      f"Scientific notation writes a number as a × 10^n with 1 ≤ a < 10 and n an integer. "
      f"The number {plain} is {num(Fraction(mant, 1000), 3)} × 10^{exp} in scientific "
      f"notation: the decimal point moves {abs(exp)} places to the {'left' if exp > 0 else 'right'}"
      f" to give a number between 1 and 10. It has four significant figures; rounded to "
      f"three it is {sig3.split('e')[0]} × 10^{int(sig3.split('e')[1])}.\n\n"
      f"Multiplying numbers in scientific notation multiplies the leading parts and adds "
      f"the exponents: ({num(Fraction(mant, 1000), 3)} × 10^{exp}) × ({num(m2)} × 10^{e2}) = "
      f"{num(Fraction(mant, 1000) * m2, 5)} × 10^{exp + e2}, which normalises to "
      f"{num(pm, 5)} × 10^{pe}. Dividing subtracts the exponents instead.\n\n"
      f"Rounding keeps the digits that are meaningful. Rounded to the nearest power of ten, "
      f"{plain} is 10^{exp + (1 if mant >= 3163 else 0)} in order of magnitude (the "
      f"boundary between orders is at about 3.16, the square root of 10). Prefixes name "
      f"powers of ten: kilo is 10^3, mega 10^6, giga 10^9, milli 10^-3, micro 10^-6 and "
      f"nano 10^-9.")
  return f"Scientific notation for {plain}", text


# =========================================================================================
# Algebra


def b_linear(r: random.Random):
  while True:
    x = r.randint(-12, 15)
    a, c = r.randint(2, 12), r.randint(1, 9)
    if a == c or x == 0:
      continue
    b = r.randint(-30, 30)
    d = (a - c) * x + b
    break
  lhs, rhs = a * x + b, c * x + d
  sign = lambda v: f"+ {v}" if v >= 0 else f"− {-v}"
  cx = f"{c}x" if c not in (0, 1, -1) else ("x" if c == 1 else ("−x" if c == -1 else ""))
  rhs_s = f"{cx} {sign(d)}" if cx else str(d)
  text = (
      f"A linear equation in one unknown can be solved by doing the same operation to both "
      f"sides until x stands alone. Solve {a}x {sign(b)} = {rhs_s}.\n\n"
      f"First collect the x terms on the left by subtracting {c}x from both sides: "
      f"{a - c}x {sign(b)} = {d}. Next {'subtract ' + str(b) if b >= 0 else 'add ' + str(-b)}"
      f" on both sides: {a - c}x = {d - b}. Finally divide by {a - c}: x = {d - b} / "
      f"{a - c} = {x}.\n\n"
      f"Check by substitution: the left side is {a} × ({x}) {sign(b)} = {lhs} and the right "
      f"side is {c} × ({x}) {sign(d)} = {rhs}, so both sides agree. A linear equation "
      f"ax + b = cx + d has exactly one solution when a ≠ c, no solution when a = c and "
      f"b ≠ d, and infinitely many when a = c and b = d. Here a − c = {a - c}, which is not "
      f"zero, so x = {x} is the only solution. Doubling the solution gives {2 * x}, and "
      f"substituting x = {x} into x^2 gives {x * x}.")
  return f"Solving the linear equation {a}x {sign(b)} = {rhs_s}", text


def b_system(r: random.Random):
  while True:
    x, y = r.randint(-9, 12), r.randint(-9, 12)
    a1, b1, a2, b2 = (r.randint(1, 7) for _ in range(4))
    b1 *= r.choice([1, -1])
    det = a1 * b2 - a2 * b1
    if det != 0 and x != y:
      break
  c1, c2 = a1 * x + b1 * y, a2 * x + b2 * y
  t = lambda coef, var: (f"{coef}{var}" if coef not in (1, -1) else ("" if coef == 1 else "−") + var)
  plus = lambda coef, var: (f"+ {t(coef, var)}" if coef > 0 else f"− {t(-coef, var)}")
  text = (
      f"A system of two linear equations in two unknowns describes two straight lines; their "
      f"intersection is the solution. Consider\n\n  {t(a1, 'x')} {plus(b1, 'y')} = {c1}\n"
      f"  {t(a2, 'x')} {plus(b2, 'y')} = {c2}\n\n"
      f"To eliminate x, multiply the first equation by {a2} and the second by {a1}, then "
      f"subtract: ({a2 * b1} − {a1 * b2})y = {a2 * c1} − {a1 * c2}, that is "
      f"{a2 * b1 - a1 * b2}y = {a2 * c1 - a1 * c2}, so y = {y}. Substituting back into the "
      f"first equation gives {t(a1, 'x')} = {c1} − ({b1 * y}) = {c1 - b1 * y}, so x = {x}.\n\n"
      f"The determinant of the coefficient matrix is a1·b2 − a2·b1 = {a1} × {b2} − {a2} × "
      f"{b1} = {det}. Because it is not zero the lines cross at exactly one point, "
      f"({x}, {y}). By Cramer's rule x = ({c1} × {b2} − {c2} × {b1}) / {det} = "
      f"{c1 * b2 - c2 * b1} / {det} = {x} and y = ({a1} × {c2} − {a2} × {c1}) / {det} = "
      f"{a1 * c2 - a2 * c1} / {det} = {y}. The sum of the solutions is x + y = {x + y} and "
      f"their product is xy = {x * y}.")
  return f"A system of two linear equations with solution ({x}, {y})", text


def b_quadratic(r: random.Random):
  while True:
    p, q = r.randint(-9, 9), r.randint(-9, 9)
    a = r.choice([1, 1, 2, 3])
    if p != q and p != 0 and q != 0:
      break
  b, c = -a * (p + q), a * p * q
  disc = b * b - 4 * a * c
  vx = Fraction(-b, 2 * a)
  vy = a * vx * vx + b * vx + c
  poly = f"{'' if a == 1 else a}x^2 {'+' if b >= 0 else '−'} {abs(b)}x {'+' if c >= 0 else '−'} {abs(c)}"
  text = (
      f"The quadratic equation {poly} = 0 has a = {a}, b = {b} and c = {c}. Its "
      f"discriminant is b^2 − 4ac = {b * b} − {4 * a * c} = {disc}. A positive discriminant "
      f"means two distinct real roots, zero means one repeated root and a negative value "
      f"means no real roots. Since {disc} = {math.isqrt(disc)}^2 is a perfect square, the "
      f"roots are rational.\n\n"
      f"The quadratic formula x = (−b ± √(b^2 − 4ac)) / (2a) gives x = ({-b} ± "
      f"{math.isqrt(disc)}) / {2 * a}, so the roots are x = {min(p, q)} and x = {max(p, q)}. "
      f"In factored form the polynomial is {'' if a == 1 else str(a)}(x {'−' if p >= 0 else '+'} "
      f"{abs(p)})(x {'−' if q >= 0 else '+'} {abs(q)}). Vieta's formulas agree: the sum of "
      f"the roots is −b/a = {frac(Fraction(-b, a))} and their product is c/a = "
      f"{frac(Fraction(c, a))}.\n\n"
      f"The graph y = {poly} is a parabola opening {'upward' if a > 0 else 'downward'}. Its "
      f"axis of symmetry is x = −b/(2a) = {frac(vx)}, halfway between the roots, and its "
      f"vertex is ({frac(vx)}, {frac(vy)}), so the minimum value of the function is "
      f"{frac(vy)}. The "
      f"y-intercept is ({0}, {c}).")
  return f"The quadratic {poly}", text


def b_arith_seq(r: random.Random):
  a1, d = r.randint(-20, 30), r.choice([-7, -5, -4, -3, 2, 3, 4, 5, 6, 7, 9, 11])
  n = r.randint(12, 60)
  an = a1 + (n - 1) * d
  sn = n * (a1 + an) // 2 if n * (a1 + an) % 2 == 0 else Fraction(n * (a1 + an), 2)
  terms = [a1 + k * d for k in range(5)]
  target = a1 + (r.randint(20, 80)) * d
  k_t = (target - a1) // d + 1
  text = (
      f"An arithmetic sequence adds the same common difference to each term to get the "
      f"next. The sequence {', '.join(map(str, terms))}, ... starts at a1 = {a1} and has "
      f"common difference d = {d}. Its general term is a_n = a1 + (n − 1)d = {a1} + "
      f"(n − 1)({d}).\n\n"
      f"The {ordinal(n)} term is a_{n} = {a1} + {n - 1} × ({d}) = {an}. The sum of the first "
      f"n terms is S_n = n(a1 + a_n)/2, the number of terms times the average of the first "
      f"and last term; for n = {n} this is {n} × ({a1} + {an}) / 2 = {num(sn)}. The method "
      f"is the one attributed to the young Gauss, who summed 1 + 2 + ... + 100 = 5050 by "
      f"pairing terms from both ends.\n\n"
      f"To find where a value appears, solve a_n = value for n. The number {target} is a "
      f"term of this sequence: {target} = {a1} + (n − 1)({d}) gives n − 1 = {k_t - 1}, so it "
      f"is the {ordinal(k_t)} term. The sequence is "
      f"{'increasing' if d > 0 else 'decreasing'} because d is {'positive' if d > 0 else 'negative'}"
      f", and the average of any two terms equally far from the ends of a block of terms "
      f"equals the average of the whole block.")
  return f"The arithmetic sequence starting {a1}, {a1 + d}, {a1 + 2 * d}", text


def b_geom_seq(r: random.Random):
  a1, q = r.choice([1, 2, 3, 5, 6, 7, 10]), r.choice([2, 3, 4, 5, -2, -3])
  n = r.randint(6, 11)
  an = a1 * q ** (n - 1)
  sn = a1 * (q ** n - 1) // (q - 1)
  terms = [a1 * q ** k for k in range(5)]
  half = Fraction(1, 2)
  inf_a = r.choice([8, 12, 20, 30, 48])
  text = (
      f"A geometric sequence multiplies each term by a fixed common ratio. The sequence "
      f"{', '.join(map(str, terms))}, ... has first term {a1} and common ratio {q}, so its "
      f"general term is a_n = {a1} × ({q})^(n − 1).\n\n"
      f"The {ordinal(n)} term is {a1} × ({q})^{n - 1} = {an}. The sum of the first n terms "
      f"of a geometric sequence with ratio r ≠ 1 is S_n = a1(r^n − 1)/(r − 1). For n = {n}: "
      f"S_{n} = {a1} × (({q})^{n} − 1) / ({q} − 1) = {a1} × ({q ** n} − 1) / {q - 1} = {sn}. "
      f"Adding the terms one by one gives the same total, {sum(a1 * q ** k for k in range(n))}."
      f"\n\nWhen the ratio lies strictly between −1 and 1 the terms shrink and the infinite "
      f"sum converges to a1/(1 − r). For instance {inf_a} + {num(inf_a * half)} + "
      f"{num(inf_a * half ** 2)} + ... with ratio 1/2 adds up to {inf_a} / (1 − 1/2) = "
      f"{2 * inf_a}. With ratio {q} the terms grow without bound in absolute value, so that "
      f"infinite series diverges. Geometric growth describes compound interest, doubling "
      f"populations and radioactive decay with a fixed half-life.")
  return f"The geometric sequence {terms[0]}, {terms[1]}, {terms[2]}, ...", text


def b_interest(r: random.Random):
  P = r.choice([500, 1000, 1500, 2000, 2500, 4000, 5000, 10000])
  rate = r.choice([2, 3, 4, 5, 6, 8])
  years = r.choice([3, 5, 8, 10, 12])
  simple = P * rate * years / 100
  A = P * (1 + rate / 100) ** years
  Am = P * (1 + rate / 1200) ** (12 * years)
  double = math.log(2) / math.log(1 + rate / 100)
  text = (
      f"Simple interest is paid only on the original principal; compound interest is paid "
      f"on the principal plus the interest already earned. Suppose {P} dollars are invested "
      f"at {rate}% per year for {years} years.\n\n"
      f"With simple interest the interest is P × r × t = {P} × {num(rate / 100)} × {years} = "
      f"{num(simple)} dollars, so the balance is {num(P + simple)} dollars. With interest "
      f"compounded once a year the balance is P(1 + r)^t = {P} × {num(1 + rate / 100)}^{years}"
      f" ≈ {num(A)} dollars, which is {num(A - P - simple)} dollars more than simple interest."
      f" Compounding monthly at the same yearly rate, P(1 + r/12)^(12t), gives about "
      f"{num(Am)} dollars.\n\n"
      f"The time to double an investment at compound rate r is ln 2 / ln(1 + r), which at "
      f"{rate}% is about {num(double, 1)} years. The rule of 72 approximates this as "
      f"72 / {rate} = {num(72 / rate, 1)} years. In exponent notation, growth by a factor "
      f"(1 + r) each year for t years multiplies the amount by (1 + r)^t, and the laws of "
      f"exponents give (1 + r)^a × (1 + r)^b = (1 + r)^(a + b), so two periods of {years} "
      f"years multiply the money by about {num((1 + rate / 100) ** (2 * years), 3)}.")
  return f"Simple and compound interest on {P} dollars at {rate}%", text


def b_line(r: random.Random):
  while True:
    x1, y1, x2, y2 = (r.randint(-8, 10) for _ in range(4))
    if x1 != x2 and y1 != y2:
      break
  m = Fraction(y2 - y1, x2 - x1)
  b = y1 - m * x1
  xint = -b / m
  mid = (Fraction(x1 + x2, 2), Fraction(y1 + y2, 2))
  text = (
      f"A straight line through two points has slope m = (y2 − y1) / (x2 − x1), the rise "
      f"over the run. For the points ({x1}, {y1}) and ({x2}, {y2}) the slope is "
      f"({y2} − {y1}) / ({x2} − {x1}) = {y2 - y1} / {x2 - x1} = {frac(m)}.\n\n"
      f"The slope-intercept form is y = mx + b. Substituting the first point gives b = "
      f"{y1} − ({frac(m)}) × ({x1}) = {frac(b)}, so the line is y = {frac(m)}x "
      f"{'+' if b >= 0 else '−'} {frac(abs(b))}. It crosses the y-axis at (0, {frac(b)}) "
      f"and the x-axis where y = 0, at x = −b/m = {frac(xint)}. The line "
      f"{'rises' if m > 0 else 'falls'} from left to right because the slope is "
      f"{'positive' if m > 0 else 'negative'}.\n\n"
      f"A parallel line has the same slope {frac(m)}; a perpendicular line has slope "
      f"−1/m = {frac(-1 / m)}, since the product of perpendicular slopes is −1. The midpoint "
      f"of the segment between the two points is ({frac(mid[0])}, {frac(mid[1])}) and its "
      f"length is √(({x2 - x1})^2 + ({y2 - y1})^2) = √{(x2 - x1) ** 2 + (y2 - y1) ** 2} ≈ "
      f"{num(math.hypot(x2 - x1, y2 - y1), 3)}. At x = 10 the line has height "
      f"{frac(m * 10 + b)}.")
  return f"The line through ({x1}, {y1}) and ({x2}, {y2})", text


def b_word_problem(r: random.Random):
  kind = r.randrange(3)
  if kind == 0:
    n = r.randint(5, 60)
    k = r.choice([3, 4, 5])
    s = sum(n + i for i in range(k))
    title = f"{k} consecutive integers with sum {s}"
    text = (
        f"Word problems become equations once the unknown is named. Problem: the sum of {k} "
        f"consecutive integers is {s}; find them. Let the smallest be n; the others are "
        f"{', '.join(f'n + {i}' for i in range(1, k))}. Their sum is {k}n + {k * (k - 1) // 2}"
        f", so {k}n + {k * (k - 1) // 2} = {s}, {k}n = {s - k * (k - 1) // 2} and n = {n}. "
        f"The integers are {', '.join(str(n + i) for i in range(k))}.\n\n"
        f"A shortcut: the average of consecutive integers is the middle value (or the mean of "
        f"the two middle values), and the average here is {s} / {k} = {num(Fraction(s, k))}. "
        f"The product of the smallest and largest is {n * (n + k - 1)}, and the sum of their "
        f"squares is {sum((n + i) ** 2 for i in range(k))}. Of any {k} consecutive integers "
        f"exactly one is divisible by {k}; here it is "
        f"{[n + i for i in range(k) if (n + i) % k == 0][0]}.")
  elif kind == 1:
    child = r.randint(4, 15)
    f = r.choice([3, 4, 5])
    parent = f * child
    yrs = parent - 2 * child
    title = f"An age problem: a parent {f} times as old as a child"
    text = (
        f"Age problems use the fact that everybody gets older at the same rate. A parent is "
        f"{f} times as old as a child, and together they are {parent + child} years old. How "
        f"old is each? Let the child be c years old; then the parent is {f}c and c + {f}c = "
        f"{parent + child}, so {f + 1}c = {parent + child} and c = {child}. The child is "
        f"{child} and the parent {parent}.\n\n"
        f"When will the parent be exactly twice as old as the child? In t years the ages are "
        f"{parent} + t and {child} + t, and {parent} + t = 2({child} + t) gives t = {parent} − "
        f"{2 * child} = {yrs}. Then the ages will be {parent + yrs} and {child + yrs}. The "
        f"difference between the ages is always {parent - child} years, so the parent "
        f"was {parent - child} when the child was born, and in {child} years' time the "
        f"parent will be {parent + child}, the same as their combined age today.")
  else:
    v1, v2 = r.choice([(40, 60), (50, 70), (45, 75), (60, 90), (30, 50)])
    dist = (v1 + v2) * r.choice([2, 3, 4, 5])
    t = Fraction(dist, v1 + v2)
    title = f"Two trains approaching each other at {v1} and {v2} km/h"
    text = (
        f"Distance equals speed times time. Two trains start {dist} km apart and travel "
        f"towards each other on parallel tracks, one at {v1} km/h and the other at {v2} km/h. "
        f"Their closing speed is the sum of the speeds, {v1 + v2} km/h, so they meet after "
        f"{dist} / {v1 + v2} = {num(t)} hours. By then the first train has covered {v1} × "
        f"{num(t)} = {num(v1 * t)} km and the second {num(v2 * t)} km; the two distances add "
        f"up to {dist} km.\n\n"
        f"If instead both trains went in the same direction, with the faster one {dist} km "
        f"behind, the gap would close at the difference of the speeds, {v2 - v1} km/h, taking "
        f"{num(Fraction(dist, v2 - v1))} hours. The average speed of a trip is total distance "
        f"over total time: driving 120 km at {v1} km/h and another 120 km at {v2} km/h takes "
        f"{num(Fraction(120, v1) + Fraction(120, v2))} hours, an average of "
        f"{num(Fraction(240, 1) / (Fraction(120, v1) + Fraction(120, v2)))} km/h, which is "
        f"less than the mean of the two speeds, {num(Fraction(v1 + v2, 2))} km/h.")
  return title, text


# =========================================================================================
# Geometry

_TRIPLES = [(3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29), (9, 40, 41),
            (12, 35, 37), (11, 60, 61)]


def g_box(r: random.Random):
  a, b, _ = r.choice(_TRIPLES)
  k = r.randint(1, 4)
  L, W = a * k, b * k
  H = r.randint(2, 20)
  diag2 = L * L + W * W + H * H
  text = (
      f"A rectangle {L} cm long and {W} cm wide has area {L} × {W} = {L * W} cm^2 and "
      f"perimeter 2({L} + {W}) = {2 * (L + W)} cm. By the Pythagorean theorem its diagonal "
      f"is √({L}^2 + {W}^2) = √{L * L + W * W} = {math.isqrt(L * L + W * W)} cm.\n\n"
      f"A rectangular box (cuboid) with this rectangle as its base and height {H} cm has "
      f"volume length × width × height = {L} × {W} × {H} = {L * W * H} cm^3, which is "
      f"{num(Fraction(L * W * H, 1000), 3)} litres since one litre is 1000 cm^3. Its surface "
      f"area is 2(lw + lh + wh) = 2({L * W} + {L * H} + {W * H}) = "
      f"{2 * (L * W + L * H + W * H)} cm^2. The space diagonal from one corner to the "
      f"opposite corner is √({L}^2 + {W}^2 + {H}^2) = √{diag2} ≈ {num(math.sqrt(diag2), 2)} "
      f"cm.\n\n"
      f"Scaling every edge by 2 multiplies lengths by 2, areas by 4 and volumes by 8: the "
      f"doubled box would have volume {8 * L * W * H} cm^3. A cube with the same volume as "
      f"the original box would have edge ∛{L * W * H} ≈ {num((L * W * H) ** (1 / 3), 2)} cm. "
      f"Filled with water (density 1 g/cm^3), the box would hold "
      f"{num(Fraction(L * W * H, 1000), 3)} kg of water.")
  return f"A {L} cm by {W} cm rectangle and a box of height {H} cm", text


def g_circle(r: random.Random):
  rad = r.randint(2, 30)
  ang = r.choice([30, 45, 60, 72, 90, 120, 135, 150])
  pi = math.pi
  text = (
      f"A circle of radius {rad} cm has diameter {2 * rad} cm. Its circumference is "
      f"2πr = {2 * rad}π ≈ {num(2 * pi * rad, 2)} cm and its area is πr^2 = {rad * rad}π ≈ "
      f"{num(pi * rad * rad, 2)} cm^2, using π ≈ 3.14159.\n\n"
      f"A sector with central angle {ang}° is {frac(Fraction(ang, 360))} of the circle. Its "
      f"arc length is {frac(Fraction(ang, 360))} × {2 * rad}π = "
      f"{frac(Fraction(ang * 2 * rad, 360))}π ≈ {num(2 * pi * rad * ang / 360, 2)} cm and its "
      f"area is {frac(Fraction(ang, 360))} × {rad * rad}π = "
      f"{frac(Fraction(ang * rad * rad, 360))}π ≈ {num(pi * rad * rad * ang / 360, 2)} cm^2. "
      f"In radians the angle is {frac(Fraction(ang, 180))}π ≈ {num(ang * pi / 180, 4)}, and "
      f"the arc length is also radius × angle in radians.\n\n"
      f"Doubling the radius to {2 * rad} cm doubles the circumference but multiplies the "
      f"area by four, to {4 * rad * rad}π cm^2. The largest square that fits inside the "
      f"circle has the diameter as its diagonal, so its side is {2 * rad}/√2 ≈ "
      f"{num(2 * rad / math.sqrt(2), 2)} cm and its area {2 * rad * rad} cm^2. A sphere of "
      f"the same radius has volume (4/3)πr^3 ≈ {num(4 / 3 * pi * rad ** 3, 1)} cm^3.")
  return f"Circumference, area and sectors of a circle of radius {rad} cm", text


def g_right_triangle(r: random.Random):
  a, b, c = r.choice(_TRIPLES)
  k = r.randint(1, 3)
  a, b, c = a * k, b * k, c * k
  area = Fraction(a * b, 2)
  h = Fraction(a * b, c)
  text = (
      f"In a right triangle the square of the hypotenuse equals the sum of the squares of "
      f"the other two sides. A right triangle with legs {a} and {b} therefore has "
      f"hypotenuse √({a * a} + {b * b}) = √{c * c} = {c}. Whole-number solutions such as "
      f"({a}, {b}, {c}) are called Pythagorean triples.\n\n"
      f"The area is half the product of the legs, {a} × {b} / 2 = {num(area)}, and the "
      f"perimeter is {a + b + c}. The altitude from the right angle to the hypotenuse has "
      f"length (leg × leg) / hypotenuse = {a * b} / {c} = {num(h, 3)}. The median to the "
      f"hypotenuse is half the hypotenuse, {num(Fraction(c, 2))}, because the midpoint of "
      f"the hypotenuse is the centre of the circumscribed circle; the inscribed circle has "
      f"radius (a + b − c)/2 = {num(Fraction(a + b - c, 2))}.\n\n"
      f"For the angle A opposite the leg {a}: sin A = {frac(Fraction(a, c))}, cos A = "
      f"{frac(Fraction(b, c))} and tan A = {frac(Fraction(a, b))}. The angle itself is about "
      f"{num(math.degrees(math.atan2(a, b)), 2)}°, and the other acute angle is about "
      f"{num(90 - math.degrees(math.atan2(a, b)), 2)}°; the two add up to 90°. As always, "
      f"sin^2 A + cos^2 A = ({a}^2 + {b}^2)/{c}^2 = 1.")
  return f"The right triangle with sides {a}, {b} and {c}", text


def g_polygon(r: random.Random):
  n = r.choice([5, 6, 8, 9, 10, 12, 15, 18, 20, 24, 30, 36])
  total = (n - 2) * 180
  each = Fraction(total, n)
  diag = n * (n - 3) // 2
  side = r.randint(2, 12)
  area = n * side * side / (4 * math.tan(math.pi / n))
  text = (
      f"The interior angles of any polygon with n sides add up to (n − 2) × 180°, because "
      f"the polygon can be cut into n − 2 triangles from one vertex. For n = {n} the sum is "
      f"{n - 2} × 180° = {total}°. In a regular {n}-sided polygon all angles are equal, so "
      f"each interior angle is {total}° / {n} = {num(each)}°. Each exterior angle is "
      f"360° / {n} = {num(Fraction(360, n))}°, and an interior and an exterior angle at the "
      f"same vertex add to 180°.\n\n"
      f"The number of diagonals of an n-gon is n(n − 3)/2: each vertex connects to n − 3 "
      f"non-neighbouring vertices and every diagonal is counted twice. A {n}-gon has "
      f"{n} × {n - 3} / 2 = {diag} diagonals. A regular {n}-gon with side {side} cm has "
      f"perimeter {n * side} cm and area n s^2 / (4 tan(180°/n)) ≈ {num(area, 2)} cm^2.\n\n"
      f"Only three regular polygons tile the plane on their own: the equilateral triangle "
      f"(60° angles, six at a point), the square (90°, four at a point) and the regular "
      f"hexagon (120°, three at a point), because their interior angle divides 360°. "
      f"{'The ' + str(n) + '-gon is not one of them.' if n not in (3, 4, 6) else 'The hexagon is one of them.'}")
  return f"Angles and diagonals of a {n}-sided polygon", text


def g_solids(r: random.Random):
  rad, h = r.randint(2, 12), r.randint(3, 25)
  pi = math.pi
  slant = math.hypot(rad, h)
  text = (
      f"For a cylinder of radius {rad} cm and height {h} cm the volume is πr^2h = "
      f"{rad * rad * h}π ≈ {num(pi * rad * rad * h, 1)} cm^3. The curved surface is a "
      f"rectangle of width 2πr when unrolled, so the lateral area is 2πrh = {2 * rad * h}π ≈ "
      f"{num(2 * pi * rad * h, 1)} cm^2, and adding the two circular ends gives a total "
      f"surface area of {2 * rad * h + 2 * rad * rad}π ≈ "
      f"{num(pi * (2 * rad * h + 2 * rad * rad), 1)} cm^2.\n\n"
      f"A cone with the same base and height has one third of the cylinder's volume: "
      f"{frac(Fraction(rad * rad * h, 3))}π ≈ {num(pi * rad * rad * h / 3, 1)} cm^3. Its slant "
      f"height is √({rad}^2 + {h}^2) ≈ {num(slant, 2)} cm and its curved surface area πrl ≈ "
      f"{num(pi * rad * slant, 1)} cm^2.\n\n"
      f"A sphere of radius {rad} cm has volume (4/3)πr^3 = "
      f"{frac(Fraction(4 * rad ** 3, 3))}π ≈ {num(4 / 3 * pi * rad ** 3, 1)} cm^3 and surface "
      f"area 4πr^2 = {4 * rad * rad}π ≈ {num(4 * pi * rad * rad, 1)} cm^2. Archimedes showed "
      f"that a sphere has two thirds of the volume of the smallest cylinder containing it "
      f"(radius {rad}, height {2 * rad}), whose volume is {2 * rad ** 3}π cm^3. One litre is "
      f"1000 cm^3, so the cylinder above holds about {num(pi * rad * rad * h / 1000, 3)} L.")
  return f"Cylinder, cone and sphere with radius {rad} cm", text


def g_coordinates(r: random.Random):
  while True:
    pts = [(r.randint(-6, 9), r.randint(-6, 9)) for _ in range(3)]
    (x1, y1), (x2, y2), (x3, y3) = pts
    cross = (x2 - x1) * (y3 - y1) - (x3 - x1) * (y2 - y1)
    if cross != 0:
      break
  area = Fraction(abs(cross), 2)
  d = lambda p, q: math.hypot(p[0] - q[0], p[1] - q[1])
  sides = [d(pts[0], pts[1]), d(pts[1], pts[2]), d(pts[2], pts[0])]
  cen = (Fraction(x1 + x2 + x3, 3), Fraction(y1 + y2 + y3, 3))
  text = (
      f"Coordinates turn geometry into arithmetic. Take the triangle with vertices "
      f"A({x1}, {y1}), B({x2}, {y2}) and C({x3}, {y3}). The distance formula "
      f"√((x2 − x1)^2 + (y2 − y1)^2) gives the side lengths AB = "
      f"√{(x2 - x1) ** 2 + (y2 - y1) ** 2} ≈ {num(sides[0], 3)}, BC = "
      f"√{(x3 - x2) ** 2 + (y3 - y2) ** 2} ≈ {num(sides[1], 3)} and CA = "
      f"√{(x1 - x3) ** 2 + (y1 - y3) ** 2} ≈ {num(sides[2], 3)}, so the perimeter is about "
      f"{num(sum(sides), 3)}.\n\n"
      f"The shoelace formula gives the area as half the absolute value of "
      f"(x2 − x1)(y3 − y1) − (x3 − x1)(y2 − y1) = ({x2 - x1})({y3 - y1}) − ({x3 - x1})"
      f"({y2 - y1}) = {cross}, so the area is {num(area)}. The sign of that number tells the "
      f"orientation: the vertices A, B, C run {'counterclockwise' if cross > 0 else 'clockwise'}."
      f"\n\nThe midpoint of AB is ({frac(Fraction(x1 + x2, 2))}, {frac(Fraction(y1 + y2, 2))})"
      f" and the centroid, where the three medians meet, is the average of the vertices: "
      f"({frac(cen[0])}, {frac(cen[1])}). The centroid divides each median in the ratio 2:1 "
      f"from the vertex. Translating the triangle by (3, −2) moves the centroid to "
      f"({frac(cen[0] + 3)}, {frac(cen[1] - 2)}) and leaves the area unchanged.")
  return f"The triangle A({x1}, {y1}), B({x2}, {y2}), C({x3}, {y3})", text


def g_similar(r: random.Random):
  a, b, c = r.choice([(4, 6, 8), (5, 7, 9), (3, 5, 7), (6, 8, 11), (5, 6, 9), (7, 9, 12)])
  k = r.choice([Fraction(3, 2), Fraction(5, 2), Fraction(2), Fraction(3), Fraction(5, 3),
                Fraction(7, 4), Fraction(4, 3)])
  s = Fraction(a + b + c, 2)
  area = math.sqrt(s * (s - a) * (s - b) * (s - c))
  text = (
      f"Two triangles are similar when their angles are equal, and then all corresponding "
      f"lengths are in the same ratio, the scale factor. A triangle with sides {a}, {b} and "
      f"{c} cm scaled by k = {frac(k)} has sides {num(a * k)}, {num(b * k)} and {num(c * k)} "
      f"cm.\n\n"
      f"Perimeters scale by k: {a + b + c} cm becomes {num((a + b + c) * k)} cm. Areas scale "
      f"by k^2 = {frac(k * k)}. By Heron's formula the original triangle, with semi-perimeter "
      f"s = {num(s)}, has area √(s(s − a)(s − b)(s − c)) ≈ {num(area, 3)} cm^2, so the larger "
      f"one has area about {num(area * float(k * k), 3)} cm^2. Volumes of similar solids "
      f"scale by k^3 = {frac(k ** 3)}.\n\n"
      f"Similarity is how heights are measured with shadows. At the same moment a vertical "
      f"post {b} m tall casts a shadow {a} m long and a tree casts a shadow {num(a * k * 2)} "
      f"m long. The sun's rays make the same angle with the ground, so tree height / "
      f"{num(a * k * 2)} = {b} / {a}, and the tree is {num(b * k * 2)} m tall. On a map "
      f"with scale 1:25000, 4 cm represents 100000 cm = 1 km, and an area of 1 cm^2 on the "
      f"map represents 625000000 cm^2 = 0.0625 km^2.")
  return f"Similar triangles with scale factor {frac(k)}", text


# =========================================================================================
# Units and measurement


def u_length(r: random.Random):
  inches = r.randint(10, 99)
  feet = r.randint(3, 30)
  miles = r.choice([3, 5, 10, 13, 26, 42, 100])
  text = (
      f"Since 1959 the international inch has been defined as exactly 2.54 cm, so every "
      f"imperial length converts to metric exactly. A foot is 12 inches = 30.48 cm, a yard "
      f"is 3 feet = 0.9144 m and a mile is 1760 yards = 5280 feet = 1609.344 m.\n\n"
      f"Examples: {inches} inches is {inches} × 2.54 = {num(Fraction(inches * 254, 100))} cm. "
      f"{feet} feet is {feet} × 0.3048 = {num(Fraction(feet * 3048, 10000), 4)} m. {miles} "
      f"miles is {miles} × 1.609344 = {num(Fraction(miles * 1609344, 1000000), 4)} km. Going "
      f"the other way, 1 km is 1 / 1.609344 ≈ 0.621371 miles, so a 10 km race is about "
      f"6.214 miles and a 42.195 km marathon is about 26.219 miles.\n\n"
      f"To convert, multiply by a fraction equal to one, such as (2.54 cm)/(1 in), arranged "
      f"so that the unwanted unit cancels. Areas need the factor squared: 1 square foot is "
      f"30.48^2 = 929.0304 cm^2, and {feet} square feet is "
      f"{num(Fraction(feet * 9290304, 10000), 4)} cm^2. Volumes need the factor cubed: one "
      f"cubic inch is 2.54^3 = 16.387064 cm^3. A nautical mile, used at sea and in the air, "
      f"is exactly 1852 m, about 1.1508 statute miles.")
  return f"Converting inches, feet and miles to metric ({inches} in, {feet} ft, {miles} mi)", text


def u_speed(r: random.Random):
  kmh = r.choice([18, 36, 54, 72, 90, 108, 120, 144])
  dist = r.choice([15, 42, 100, 250, 300, 420])
  ms = Fraction(kmh * 1000, 3600)
  t = Fraction(dist, kmh)
  hours, minutes = divmod(t * 60, 60)
  text = (
      f"Speed is distance divided by time. One kilometre per hour is 1000 m per 3600 s, so "
      f"to convert km/h to m/s divide by 3.6, and to go back multiply by 3.6. A speed of "
      f"{kmh} km/h is {kmh} / 3.6 = {num(ms)} m/s; in one minute at that speed a car covers "
      f"{num(ms * 60)} m.\n\n"
      f"How long does a {dist} km trip take at an average of {kmh} km/h? Time = distance / "
      f"speed = {dist} / {kmh} = {num(t, 4)} h, which is {int(hours)} h "
      f"{num(minutes, 1)} min. The same trip at {kmh + 10} km/h would take "
      f"{num(Fraction(dist, kmh + 10) * 60, 1)} minutes, saving "
      f"{num((t - Fraction(dist, kmh + 10)) * 60, 1)} minutes.\n\n"
      f"In miles, {kmh} km/h is {kmh} / 1.609344 ≈ {num(kmh / 1.609344, 2)} mph. Sound travels "
      f"at about 343 m/s in air at 20 °C, which is about 1235 km/h; light in vacuum travels "
      f"at exactly 299792458 m/s. A knot is one nautical mile per hour, 1852 m/h, or about "
      f"0.514 m/s. Pace, used by runners, is the reciprocal of speed: {kmh} km/h corresponds "
      f"to {num(Fraction(60, kmh), 3)} minutes per kilometre.")
  return f"Speed conversions and travel time at {kmh} km/h", text


def u_mass_volume(r: random.Random):
  lb = r.choice([5, 10, 25, 50, 150, 200])
  ml = r.choice([250, 330, 500, 750, 1500, 2000])
  gal = r.choice([2, 5, 10, 15])
  text = (
      f"The pound is defined as exactly 0.45359237 kg, and one pound is 16 ounces. So "
      f"{lb} lb = {lb} × 0.45359237 = {num(Fraction(lb * 45359237, 10 ** 8), 5)} kg, and "
      f"1 kg ≈ 2.20462 lb. An ounce is 28.349523125 g.\n\n"
      f"In the metric system one litre is one cubic decimetre, 1000 cm^3, and one millilitre "
      f"is 1 cm^3. A {ml} mL bottle therefore holds {num(Fraction(ml, 1000), 3)} L = {ml} "
      f"cm^3. Water has a density close to 1 g/mL, so it contains about {ml} g of water, and "
      f"1 m^3 of water has a mass of about 1000 kg, one tonne.\n\n"
      f"A US liquid gallon is exactly 231 cubic inches = 3.785411784 L, while the imperial "
      f"gallon used in the UK is exactly 4.54609 L. {gal} US gallons is "
      f"{num(Fraction(gal * 3785411784, 10 ** 9), 4)} L and {gal} imperial gallons is "
      f"{num(Fraction(gal * 454609, 100000), 4)} L. Fuel economy converts between the two "
      f"conventions by reciprocals: 8 L per 100 km is 12.5 km per litre, which is about "
      f"29.4 miles per US gallon. A cubic metre holds 1000 L, so a tank 2 m × 1.5 m × 1 m "
      f"holds 3000 L.")
  return f"Mass and volume units: pounds, litres and gallons", text


def u_temperature(r: random.Random):
  c = r.choice([-40, -10, 0, 15, 20, 25, 37, 60, 100, 180, 250])
  f = Fraction(9, 5) * c + 32
  fx = r.choice([0, 50, 68, 98, 212, 350, 451])
  cx = (fx - 32) * Fraction(5, 9)
  text = (
      f"The Celsius scale puts the freezing point of water at 0 °C and its boiling point at "
      f"100 °C at standard atmospheric pressure; the Fahrenheit scale puts them at 32 °F and "
      f"212 °F. A step of 100 Celsius degrees equals 180 Fahrenheit degrees, so F = (9/5)C + "
      f"32 and C = (5/9)(F − 32).\n\n"
      f"{c} °C is (9/5) × {c} + 32 = {num(f)} °F. {fx} °F is (5/9) × ({fx} − 32) = "
      f"{num(cx, 2)} °C. The two scales agree at −40, where −40 °C = −40 °F. A change in "
      f"temperature of 10 °C is a change of 18 °F; the offset of 32 does not apply to "
      f"differences.\n\n"
      f"The kelvin, the SI unit, starts at absolute zero: K = C + 273.15, so absolute zero "
      f"is −273.15 °C and {c} °C is {num(c + Fraction(27315, 100))} K. Kelvin temperatures "
      f"are used in gas laws because pressure and volume of an ideal gas are proportional "
      f"to absolute temperature. Normal human body temperature is about 37 °C = 98.6 °F = "
      f"310.15 K, and room temperature is often taken as 20 °C = 68 °F = 293.15 K.")
  return f"Temperature conversions: {c} °C and {fx} °F", text


def u_time(r: random.Random):
  secs = r.randint(5000, 400000)
  days, rem = divmod(secs, 86400)
  h, rem = divmod(rem, 3600)
  m, s = divmod(rem, 60)
  start_h, start_m = r.randint(0, 23), r.choice([0, 15, 20, 30, 45, 50])
  dur_h, dur_m = r.randint(1, 30), r.choice([0, 10, 25, 40, 55])
  end = (start_h * 60 + start_m + dur_h * 60 + dur_m)
  end_day, end_min = divmod(end, 1440)
  text = (
      f"A minute has 60 seconds, an hour 3600 seconds and a day 86400 seconds. A week is "
      f"604800 seconds, and a common year of 365 days is 31536000 seconds; a leap year has "
      f"31622400. Converting {secs} seconds: {secs} = {days} × 86400 + {secs - days * 86400}, "
      f"and the remainder is {h} hours, {m} minutes and {s} seconds, so {secs} s = {days} "
      f"d {h} h {m} min {s} s, or about {num(secs / 3600, 2)} hours.\n\n"
      f"Clock arithmetic works modulo 24 hours. A journey starting at "
      f"{start_h:02d}:{start_m:02d} and lasting {dur_h} h {dur_m} min ends at "
      f"{end_min // 60:02d}:{end_min % 60:02d}"
      f"{'' if end_day == 0 else (' the next day' if end_day == 1 else f' {end_day} days later')}."
      f" In total that is {dur_h * 60 + dur_m} minutes.\n\n"
      f"The Gregorian calendar has a leap year every year divisible by 4, except century years "
      f"not divisible by 400: 2000 was a leap year but 1900 was not. This gives an average "
      f"year of 365.2425 days. A day of 24 hours is 1440 minutes, so one minute is "
      f"{num(100 / 1440, 4)}% of a day, and one hour is {num(100 / 24, 4)}% of a day.")
  return f"Units of time: {secs} seconds and clock arithmetic", text


def u_area_volume(r: random.Random):
  L, W = r.randint(20, 400), r.randint(15, 300)
  depth_cm = r.choice([2, 5, 10, 25])
  rain = Fraction(L * W * depth_cm, 100)
  text = (
      f"Area units scale with the square of length units: 1 m = 100 cm, so 1 m^2 = 10000 "
      f"cm^2, and 1 km = 1000 m, so 1 km^2 = 1000000 m^2. A hectare is a square 100 m on "
      f"each side, 10000 m^2, so 1 km^2 = 100 ha. An acre is 4046.8564224 m^2, about 0.405 "
      f"ha.\n\n"
      f"A field {L} m by {W} m has area {L * W} m^2 = {num(Fraction(L * W, 10000), 4)} ha = "
      f"{num(Fraction(L * W, 1000000), 6)} km^2. In acres that is about "
      f"{num(L * W / 4046.8564224, 3)}.\n\n"
      f"Volume units scale with the cube: 1 m^3 = 1000000 cm^3 = 1000 L. If {depth_cm} mm of "
      f"rain falls on the field, the volume of water is {L * W} m^2 × {num(Fraction(depth_cm, 1000), 3)} m = "
      f"{num(Fraction(L * W * depth_cm, 1000), 3)} m^3 = {num(Fraction(L * W * depth_cm, 1), 1)} L,"
      f" with a mass of about {num(Fraction(L * W * depth_cm, 1000), 3)} tonnes. A layer of "
      f"{depth_cm} cm instead of {depth_cm} mm would be ten times as much, "
      f"{num(rain, 3)} m^3. One millimetre of rain on one square metre is exactly one litre.")
  return f"Area and volume units for a {L} m by {W} m field", text


def u_prefixes(r: random.Random):
  v = r.randint(12, 980)
  prefixes = [("tera", "T", 12), ("giga", "G", 9), ("mega", "M", 6), ("kilo", "k", 3),
              ("centi", "c", -2), ("milli", "m", -3), ("micro", "µ", -6), ("nano", "n", -9)]
  p1, p2 = r.sample(prefixes, 2)
  factor = Fraction(10) ** (p1[2] - p2[2])
  text = (
      f"SI prefixes multiply a unit by a power of ten: tera (T) 10^12, giga (G) 10^9, mega "
      f"(M) 10^6, kilo (k) 10^3, hecto (h) 10^2, deca (da) 10^1, deci (d) 10^-1, centi (c) "
      f"10^-2, milli (m) 10^-3, micro (µ) 10^-6, nano (n) 10^-9 and pico (p) 10^-12.\n\n"
      f"To convert between prefixes, subtract the exponents. From {p1[0]} (10^{p1[2]}) to "
      f"{p2[0]} (10^{p2[2]}) the factor is 10^{p1[2] - p2[2]}, so {v} {p1[1]}m = {v} × "
      f"10^{p1[2] - p2[2]} {p2[1]}m"
      f"{' = ' + num(v * factor, 9) + ' ' + p2[1] + 'm' if abs(p1[2] - p2[2]) <= 6 else ''}. "
      f"For example 1 km = 1000 m = 100000 cm = 1000000 mm, 1 µs = 1000 ns, and 5 GHz = 5000 "
      f"MHz.\n\n"
      f"Prefixes apply once: a square kilometre is (10^3 m)^2 = 10^6 m^2, not 10^3 m^2, and a "
      f"cubic centimetre is (10^-2 m)^3 = 10^-6 m^3. In computing, a kilobyte is officially "
      f"1000 bytes and a kibibyte (KiB) is 1024 bytes; a mebibyte is 1024^2 = 1048576 bytes. "
      f"A {v} MB file is {v * 1000000} bytes, which is about {num(v * 1000000 / 1048576, 2)} "
      f"MiB.")
  return f"SI prefixes: converting {v} {p1[0]}metres to {p2[0]}metres", text


# =========================================================================================
# Physics (g = 9.8 m/s^2 where gravity appears)


def p_kinematics(r: random.Random):
  u = r.choice([0, 2, 4, 5, 10, 12, 15, 20])
  a = r.choice([1, 2, 3, Fraction(5, 2), 4, Fraction(3, 2)])
  t = r.randint(3, 12)
  v = u + a * t
  s = u * t + a * t * t / 2
  brake = r.choice([4, 5, 6, 8])
  text = (
      f"For motion in a straight line with constant acceleration a, the velocity after time t "
      f"is v = u + at and the displacement is s = ut + at^2/2, where u is the initial "
      f"velocity. Eliminating t gives v^2 = u^2 + 2as.\n\n"
      f"A cyclist moving at {u} m/s accelerates at {num(a)} m/s^2 for {t} s. The final "
      f"velocity is {u} + {num(a)} × {t} = {num(v)} m/s and the distance covered is "
      f"{u} × {t} + {num(a)} × {t}^2 / 2 = {num(s)} m. The average velocity is "
      f"(u + v)/2 = {num((u + v) / 2)} m/s, and {num((u + v) / 2)} × {t} = {num(s)} m, as it "
      f"must. Check with the third equation: v^2 = {num(v * v)} and u^2 + 2as = {u * u} + "
      f"{num(2 * a * s)} = {num(u * u + 2 * a * s)}.\n\n"
      f"Braking is negative acceleration. A car at {num(v)} m/s that decelerates at {brake} "
      f"m/s^2 stops after {num(v / brake, 3)} s and travels v^2/(2a) = {num(v * v)} / "
      f"{2 * brake} = {num(v * v / (2 * brake), 3)} m while stopping. Doubling the speed "
      f"quadruples the braking distance because it depends on v^2. In km/h, {num(v)} m/s is "
      f"{num(v * Fraction(36, 10))} km/h.")
  return f"Constant acceleration: from {u} m/s at {num(a)} m/s^2 for {t} s", text


def p_free_fall(r: random.Random):
  h = r.choice([5, 10, 20, 45, 80, 125, 180, 245])
  g = Fraction(98, 10)
  t = math.sqrt(2 * h / 9.8)
  v = math.sqrt(2 * 9.8 * h)
  vup = r.choice([10, 14, 19.6, 24.5, 29.4])
  text = (
      f"Near the Earth's surface, ignoring air resistance, every object falls with the same "
      f"acceleration g, about 9.8 m/s^2. An object dropped from rest falls a distance "
      f"h = gt^2/2 in time t and reaches speed v = gt.\n\n"
      f"Dropped from a height of {h} m, an object takes t = √(2h/g) = √({2 * h}/9.8) ≈ "
      f"{num(t, 2)} s to reach the ground and hits it at v = √(2gh) = √{num(2 * g * h)} ≈ "
      f"{num(v, 2)} m/s, which is about {num(v * 3.6, 1)} km/h. After the first second it "
      f"has fallen 4.9 m and after two seconds 19.6 m: distances grow with the square of "
      f"time.\n\n"
      f"A ball thrown straight up at {num(vup)} m/s slows by 9.8 m/s every second, so it "
      f"reaches its highest point after {num(vup / 9.8, 3)} s, at a height of v^2/(2g) = "
      f"{num(vup * vup / 19.6, 3)} m, and returns to the thrower's hand after "
      f"{num(2 * vup / 9.8, 3)} s, moving at {num(vup)} m/s again. On the Moon, where "
      f"g ≈ 1.62 m/s^2, the same throw would rise {num(vup * vup / (2 * 1.62), 2)} m. The "
      f"mass of the object does not appear in any of these formulas.")
  return f"Free fall from {h} m", text


def p_newton(r: random.Random):
  m = r.choice([2, 5, 10, 20, 50, 80, 1200, 1500])
  a = r.choice([Fraction(1, 2), 1, 2, 3, 4, Fraction(5, 2)])
  mu = r.choice([Fraction(1, 10), Fraction(2, 10), Fraction(3, 10), Fraction(1, 4)])
  F = m * a
  W = m * Fraction(98, 10)
  fr = mu * W
  text = (
      f"Newton's second law says that the net force on a body equals its mass times its "
      f"acceleration, F = ma; one newton is the force that accelerates 1 kg at 1 m/s^2. To "
      f"accelerate a {m} kg mass at {num(a)} m/s^2 a net force of {m} × {num(a)} = {num(F)} N "
      f"is needed.\n\n"
      f"The weight of a body is the gravitational force on it, W = mg. With g = 9.8 m/s^2 "
      f"a {m} kg mass weighs {num(W)} N. Weight is a force and changes from place to place, "
      f"while mass does not: on the Moon (g ≈ 1.62 m/s^2) the same body weighs "
      f"{num(m * 1.62, 2)} N.\n\n"
      f"Friction opposes sliding. On a level floor the normal force equals the weight, "
      f"{num(W)} N, and with a coefficient of kinetic friction μ = {num(mu)} the friction force "
      f"is μN = {num(fr)} N. Pushing the {m} kg mass with {num(F + fr)} N then gives a net "
      f"force of {num(F + fr)} − {num(fr)} = {num(F)} N and the same acceleration of "
      f"{num(a)} m/s^2. Newton's third law adds that the floor pushes back on the body with a "
      f"force equal in size and opposite in direction to the force the body exerts on it.")
  return f"Newton's second law with a {m} kg mass", text


def p_energy(r: random.Random):
  m = r.choice([1, 2, 5, 10, 60, 70, 1000])
  v = r.choice([2, 3, 4, 5, 10, 20, 25])
  h = r.choice([2, 5, 10, 20, 30])
  t = r.choice([4, 5, 10, 20, 30])
  KE = Fraction(m * v * v, 2)
  PE = m * Fraction(98, 10) * h
  text = (
      f"Kinetic energy is the energy of motion, KE = mv^2/2, measured in joules. A {m} kg "
      f"body moving at {v} m/s has KE = {m} × {v}^2 / 2 = {num(KE)} J. Doubling its speed "
      f"would multiply the kinetic energy by four, to {num(4 * KE)} J.\n\n"
      f"Gravitational potential energy near the ground is PE = mgh. Lifting the same body "
      f"{h} m with g = 9.8 m/s^2 stores {m} × 9.8 × {h} = {num(PE)} J. The work done by a "
      f"constant force along its direction is force times distance, so lifting it at "
      f"steady speed requires {num(PE)} J of work against a weight of {num(m * Fraction(98, 10))}"
      f" N. If the body is released, energy conservation gives its speed at the bottom as "
      f"√(2gh) = √{num(2 * Fraction(98, 10) * h)} ≈ {num(math.sqrt(2 * 9.8 * h), 2)} m/s, "
      f"whatever its mass.\n\n"
      f"Power is the rate of doing work, P = W/t, measured in watts (joules per second). "
      f"Doing the {num(PE)} J of lifting work in {t} s needs an average power of "
      f"{num(PE / t, 2)} W. A kilowatt-hour is 1000 W for 3600 s, 3600000 J, so the lift "
      f"uses {num(PE / 3600000, 8)} kWh. One horsepower is about 746 W.")
  return f"Kinetic and potential energy of a {m} kg body", text


def p_circuits(r: random.Random):
  V = r.choice([3, 6, 9, 12, 24, 120, 230])
  R1, R2 = r.choice([(2, 3), (4, 12), (6, 3), (10, 15), (20, 30), (5, 20), (30, 60)])
  Rs = R1 + R2
  Rp = Fraction(R1 * R2, R1 + R2)
  I_s = Fraction(V, Rs)
  I_p = Fraction(V, Rp)
  text = (
      f"Ohm's law relates voltage V, current I and resistance R: V = IR. Resistances are "
      f"measured in ohms, currents in amperes and voltages in volts.\n\n"
      f"In series, resistances add. Resistors of {R1} Ω and {R2} Ω in series have a total "
      f"resistance of {Rs} Ω; connected to a {V} V source they carry a current of {V} / {Rs} "
      f"= {num(I_s, 4)} A. The voltage divides in proportion to resistance: {num(I_s * R1, 4)}"
      f" V across the {R1} Ω resistor and {num(I_s * R2, 4)} V across the {R2} Ω one, "
      f"adding up to {V} V.\n\n"
      f"In parallel, reciprocals add: 1/R = 1/{R1} + 1/{R2}, so R = {R1} × {R2} / ({R1} + "
      f"{R2}) = {num(Rp, 4)} Ω, less than either resistor. The source then supplies {V} / "
      f"{num(Rp, 4)} = {num(I_p, 4)} A, split as {num(Fraction(V, R1), 4)} A through the "
      f"{R1} Ω branch and {num(Fraction(V, R2), 4)} A through the {R2} Ω branch.\n\n"
      f"Electrical power is P = VI = I^2R = V^2/R. The series circuit uses {num(V * I_s, 4)} W "
      f"and the parallel one {num(V * I_p, 4)} W. Running the parallel circuit for 5 hours "
      f"uses {num(V * I_p * 5 / 1000, 4)} kWh of energy.")
  return f"Ohm's law with {R1} Ω and {R2} Ω resistors at {V} V", text


def p_density_pressure(r: random.Random):
  materials = [("aluminium", Fraction(27, 10)), ("iron", Fraction(787, 100)),
               ("copper", Fraction(896, 100)), ("gold", Fraction(193, 10)),
               ("lead", Fraction(1134, 100)), ("ice", Fraction(917, 1000))]
  name, rho = r.choice(materials)
  edge = r.choice([2, 3, 4, 5, 10])
  vol = edge ** 3
  mass = rho * vol
  F = r.choice([500, 600, 700, 800])
  A = r.choice([Fraction(1, 100), Fraction(2, 100), Fraction(1, 1000), Fraction(5, 10000)])
  text = (
      f"Density is mass per unit volume, ρ = m/V. The density of {name} is about "
      f"{num(rho, 3)} g/cm^3, which is {num(rho * 1000)} kg/m^3. A cube of {name} with edges "
      f"of {edge} cm has volume {vol} cm^3 and mass {num(rho, 3)} × {vol} = {num(mass, 3)} g. "
      f"Water has a density of about 1 g/cm^3, so {name} "
      f"{'floats' if rho < 1 else 'sinks'} in water.\n\n"
      f"Pressure is force per unit area, p = F/A, measured in pascals (1 Pa = 1 N/m^2). A "
      f"force of {F} N spread over {num(A, 4)} m^2 gives a pressure of {F} / {num(A, 4)} = "
      f"{num(F / A)} Pa = {num(F / A / 1000, 3)} kPa. The same force on half the area would "
      f"give twice the pressure, which is why knives are sharpened and snowshoes are wide."
      f"\n\nIn a liquid, pressure grows with depth as p = ρgh. In water (1000 kg/m^3, g = "
      f"9.8 m/s^2) the extra pressure at {edge} m depth is 1000 × 9.8 × {edge} = "
      f"{9800 * edge} Pa. Standard atmospheric pressure is 101325 Pa, so every 10.34 m of "
      f"water adds about one atmosphere. By Archimedes' principle the buoyant force on a "
      f"fully submerged {edge} cm cube is the weight of {vol} g of water, about "
      f"{num(vol / 1000 * 9.8, 4)} N.")
  return f"Density of {name} and pressure", text


def p_waves(r: random.Random):
  f = r.choice([50, 256, 440, 512, 1000, 2000])
  v = 343
  lam = Fraction(v, f)
  radio = r.choice([88, 95, 100, 104])
  text = (
      f"A wave carries energy without carrying matter along. Its speed v, frequency f and "
      f"wavelength λ are related by v = fλ, and the period is T = 1/f.\n\n"
      f"Sound in air at 20 °C travels at about 343 m/s. A tone of {f} Hz therefore has a "
      f"wavelength of 343 / {f} = {num(lam, 4)} m and a period of 1/{f} s = "
      f"{num(Fraction(1000, f), 4)} ms. Sound is a longitudinal wave; people hear roughly "
      f"20 Hz to 20000 Hz, which in air is wavelengths from about 17 m down to 1.7 cm. "
      f"Raising a note by one octave doubles its frequency, so the octave above {f} Hz is "
      f"{2 * f} Hz with half the wavelength, {num(lam / 2, 4)} m.\n\n"
      f"Light and radio waves are electromagnetic and travel at c = 299792458 m/s in vacuum. "
      f"An FM station at {radio} MHz broadcasts waves of wavelength c/f ≈ "
      f"{num(299792458 / (radio * 1e6), 3)} m. Visible light spans about 380 nm (violet) to "
      f"750 nm (red); green light at 500 nm has frequency about "
      f"{num(299792458 / 500e-9 / 1e12, 1)} THz. Light takes about 499 s, a little over 8 "
      f"minutes, to travel the 149.6 million km from the Sun to the Earth. Thunder heard 3 s "
      f"after a flash means the lightning was about 3 × 343 = 1029 m away.")
  return f"Waves: a {f} Hz tone, radio and light", text


def p_momentum(r: random.Random):
  m1, m2 = r.choice([(2, 3), (1, 4), (5, 5), (1000, 1500), (60, 40), (3, 1)])
  v1 = r.choice([2, 4, 5, 6, 10, 12])
  v2 = r.choice([0, 0, 1, -2, -3])
  p = m1 * v1 + m2 * v2
  vf = Fraction(p, m1 + m2)
  ke0 = Fraction(m1 * v1 * v1 + m2 * v2 * v2, 2)
  ke1 = Fraction(m1 + m2, 2) * vf * vf
  text = (
      f"Momentum is mass times velocity, p = mv, measured in kg·m/s. It is a vector: motion "
      f"to the left counts as negative. In a collision with no outside forces the total "
      f"momentum is conserved.\n\n"
      f"A {m1} kg cart moving at {v1} m/s runs into a {m2} kg cart "
      f"{'at rest' if v2 == 0 else 'moving at ' + str(v2) + ' m/s'} and the two stick "
      f"together. The total momentum before is {m1} × {v1} + {m2} × ({v2}) = {p} kg·m/s. "
      f"After the collision the joined carts, of mass {m1 + m2} kg, move at {p} / {m1 + m2} "
      f"= {num(vf, 4)} m/s.\n\n"
      f"Kinetic energy is not conserved in such a perfectly inelastic collision. Before: "
      f"{num(ke0, 4)} J; after: {num(ke1, 4)} J. So {num(ke0 - ke1, 4)} J, that is "
      f"{num((ke0 - ke1) / ke0 * 100, 2)}% of the original kinetic energy, turns into heat, "
      f"sound and deformation. The impulse on the second cart equals its change of momentum, "
      f"{m2} × ({num(vf, 4)} − ({v2})) = {num(m2 * (vf - v2), 4)} N·s; if the collision "
      f"lasts 0.1 s, the average force on it is {num(m2 * (vf - v2) * 10, 4)} N, and by "
      f"Newton's third law the first cart feels the same force in the opposite direction.")
  return f"A collision of {m1} kg and {m2} kg carts", text


# =========================================================================================
# Chemistry (IUPAC conventional atomic weights)

_AW = {"H": Fraction(1008, 1000), "C": Fraction(12011, 1000), "N": Fraction(14007, 1000),
       "O": Fraction(15999, 1000), "Na": Fraction(22990, 1000), "Mg": Fraction(24305, 1000),
       "Al": Fraction(26982, 1000), "S": Fraction(3206, 100), "Cl": Fraction(3545, 100),
       "K": Fraction(39098, 1000), "Ca": Fraction(40078, 1000), "Fe": Fraction(55845, 1000),
       "Cu": Fraction(63546, 1000)}
_NAMES = {"H": "hydrogen", "C": "carbon", "N": "nitrogen", "O": "oxygen", "Na": "sodium",
          "Mg": "magnesium", "Al": "aluminium", "S": "sulfur", "Cl": "chlorine",
          "K": "potassium", "Ca": "calcium", "Fe": "iron", "Cu": "copper"}
_COMPOUNDS = [("water", {"H": 2, "O": 1}, "H2O"), ("carbon dioxide", {"C": 1, "O": 2}, "CO2"),
              ("methane", {"C": 1, "H": 4}, "CH4"), ("ammonia", {"N": 1, "H": 3}, "NH3"),
              ("sodium chloride", {"Na": 1, "Cl": 1}, "NaCl"),
              ("glucose", {"C": 6, "H": 12, "O": 6}, "C6H12O6"),
              ("sulfuric acid", {"H": 2, "S": 1, "O": 4}, "H2SO4"),
              ("calcium carbonate", {"Ca": 1, "C": 1, "O": 3}, "CaCO3"),
              ("ethanol", {"C": 2, "H": 6, "O": 1}, "C2H5OH"),
              ("iron(III) oxide", {"Fe": 2, "O": 3}, "Fe2O3"),
              ("magnesium oxide", {"Mg": 1, "O": 1}, "MgO"),
              ("potassium chloride", {"K": 1, "Cl": 1}, "KCl"),
              ("aluminium oxide", {"Al": 2, "O": 3}, "Al2O3"),
              ("copper(II) sulfate", {"Cu": 1, "S": 1, "O": 4}, "CuSO4")]


def molar_mass(comp: dict[str, int]) -> Fraction:
  return sum(_AW[e] * n for e, n in comp.items())


def c_molar_mass(r: random.Random):
  name, comp, formula = r.choice(_COMPOUNDS)
  M = molar_mass(comp)
  parts = " + ".join(f"{n} × {num(_AW[e], 3)}" for e, n in comp.items())
  pct = ", ".join(f"{_NAMES[e]} {num(_AW[e] * n / M * 100, 2)}%" for e, n in comp.items())
  grams = r.choice([10, 25, 50, 100, 250])
  text = (
      f"The molar mass of a compound is the sum of the atomic weights of the atoms in its "
      f"formula, in grams per mole. Using the standard atomic weights "
      f"{', '.join(f'{e} = {num(_AW[e], 3)}' for e in comp)}, {name}, {formula}, has molar "
      f"mass {parts} = {num(M, 3)} g/mol.\n\n"
      f"The mass percent of each element is its share of that total: {pct}. These "
      f"percentages add up to 100% and do not depend on the size of the sample. A "
      f"{grams} g sample of {name} contains {num(Fraction(grams) / M, 4)} mol of "
      f"{formula}, and therefore "
      f"{', '.join(f'{num(grams * _AW[e] * n / M, 3)} g of {_NAMES[e]}' for e, n in comp.items())}."
      f"\n\nOne formula unit of {formula} contains "
      f"{', '.join(f'{n} atom{plural(n)} of {_NAMES[e]}' for e, n in comp.items())}"
      f", {sum(comp.values())} atoms in all. One mole contains Avogadro's number of formula "
      f"units, 6.022 × 10^23, so {grams} g holds about "
      f"{sci(float(Fraction(grams) / M) * 6.022e23)} of them.")
  return f"Molar mass and composition of {name} ({formula})", text


def c_moles(r: random.Random):
  el = r.choice(["C", "Na", "Mg", "Al", "S", "Fe", "Cu", "Ca", "K"])
  M = _AW[el]
  grams = r.choice([6, 12, 24, 36, 50, 64, 100, 112])
  n = Fraction(grams) / M
  mol2 = r.choice([Fraction(1, 4), Fraction(1, 2), 2, 3, Fraction(3, 2)])
  text = (
      f"A mole is the amount of substance containing exactly 6.02214076 × 10^23 entities, "
      f"Avogadro's number. The mass of one mole of an element in grams is numerically equal "
      f"to its atomic weight: for {_NAMES[el]} ({el}) that is {num(M, 3)} g/mol.\n\n"
      f"Converting mass to moles divides by the molar mass: {grams} g of {_NAMES[el]} is "
      f"{grams} / {num(M, 3)} = {num(n, 4)} mol. Multiplying by Avogadro's number gives the "
      f"number of atoms: {num(n, 4)} × 6.022 × 10^23 ≈ {sci(float(n) * 6.022e23)} "
      f"atoms. Going the other way, {num(mol2)} mol of {_NAMES[el]} has a mass of "
      f"{num(mol2)} × {num(M, 3)} = {num(mol2 * M, 4)} g.\n\n"
      f"The mass of a single atom is tiny: {num(M, 3)} g / 6.022 × 10^23 ≈ "
      f"{sci(float(M) / 6.022e23)} g. The atomic mass unit, 1 u ≈ 1.6605 × 10^-24 g, "
      f"is one twelfth of the mass of a carbon-12 atom, which is why molar masses in g/mol "
      f"and atomic masses in u have the same numbers. For a gas at 0 °C and 1 atm, one mole "
      f"occupies about 22.4 L, so {num(mol2)} mol of an ideal gas would fill about "
      f"{num(mol2 * Fraction(224, 10), 3)} L.")
  return f"Moles, mass and atoms of {_NAMES[el]}", text


_REACTIONS = [
    ("hydrogen burning in oxygen", {"H2": 2, "O2": 1}, {"H2O": 2},
     {"H2": {"H": 2}, "O2": {"O": 2}, "H2O": {"H": 2, "O": 1}}),
    ("methane combustion", {"CH4": 1, "O2": 2}, {"CO2": 1, "H2O": 2},
     {"CH4": {"C": 1, "H": 4}, "O2": {"O": 2}, "CO2": {"C": 1, "O": 2}, "H2O": {"H": 2, "O": 1}}),
    ("ammonia synthesis", {"N2": 1, "H2": 3}, {"NH3": 2},
     {"N2": {"N": 2}, "H2": {"H": 2}, "NH3": {"N": 1, "H": 3}}),
    ("rusting of iron to iron(III) oxide", {"Fe": 4, "O2": 3}, {"Fe2O3": 2},
     {"Fe": {"Fe": 1}, "O2": {"O": 2}, "Fe2O3": {"Fe": 2, "O": 3}}),
    ("burning magnesium", {"Mg": 2, "O2": 1}, {"MgO": 2},
     {"Mg": {"Mg": 1}, "O2": {"O": 2}, "MgO": {"Mg": 1, "O": 1}}),
    ("decomposition of calcium carbonate", {"CaCO3": 1}, {"CaO": 1, "CO2": 1},
     {"CaCO3": {"Ca": 1, "C": 1, "O": 3}, "CaO": {"Ca": 1, "O": 1}, "CO2": {"C": 1, "O": 2}}),
    ("propane combustion", {"C3H8": 1, "O2": 5}, {"CO2": 3, "H2O": 4},
     {"C3H8": {"C": 3, "H": 8}, "O2": {"O": 2}, "CO2": {"C": 1, "O": 2}, "H2O": {"H": 2, "O": 1}}),
]


def _side(d):
  return " + ".join(f"{'' if k == 1 else k}{f}" for f, k in d.items())


def c_stoichiometry(r: random.Random):
  name, lhs, rhs, comps = r.choice(_REACTIONS)
  M = {f: molar_mass(c) for f, c in comps.items()}
  first = next(iter(lhs))
  grams = r.choice([10, 16, 20, 32, 44, 50, 100])
  n = Fraction(grams) / M[first]
  prods = {f: n * k / lhs[first] for f, k in rhs.items()}
  mass_in = sum(M[f] * k for f, k in lhs.items())
  mass_out = sum(M[f] * k for f, k in rhs.items())
  text = (
      f"A balanced chemical equation has the same number of atoms of each element on both "
      f"sides. For {name} it is {_side(lhs)} → {_side(rhs)}. The coefficients give mole "
      f"ratios; with molar masses "
      f"{', '.join(f'{f} = {num(M[f], 3)} g/mol' for f in comps)}, the reactant side weighs "
      f"{num(mass_in, 3)} g per reaction unit and the product side {num(mass_out, 3)} g, "
      f"equal as conservation of mass requires.\n\n"
      f"Starting from {grams} g of {first}: that is {grams} / {num(M[first], 3)} = "
      f"{num(n, 4)} mol. By the coefficients this produces "
      f"{'; '.join(f'{num(v, 4)} mol of {f}, which is {num(v * M[f], 3)} g' for f, v in prods.items())}"
      f"{(', assuming the other reactant' + ('s are' if len(lhs) > 2 else ' is') + ' in excess') if len(lhs) > 1 else ''}"
      f".\n\n"
      + (f"The oxygen needed is {num(n * lhs['O2'] / lhs[first], 4)} mol, or "
         f"{num(n * lhs['O2'] / lhs[first] * M['O2'], 3)} g of O2. " if "O2" in lhs and first != "O2" else "")
      + f"If the actual yield of {next(iter(rhs))} is 80% of the theoretical yield, the "
      f"reaction gives {num(prods[next(iter(rhs))] * M[next(iter(rhs))] * Fraction(8, 10), 3)}"
      f" g. The limiting reactant is the one that runs out first; the amount of product is "
      f"set by it, not by the reactant present in the larger mass.")
  return f"Stoichiometry of {name}", text


def c_gas_law(r: random.Random):
  n = r.choice([Fraction(1, 2), 1, 2, Fraction(5, 2), 3])
  T_c = r.choice([0, 20, 25, 27, 100])
  T = T_c + Fraction(27315, 100)
  V = r.choice([10, 20, 22, 24, 50])
  R = Fraction(8314, 1000)
  P = n * R * T / (Fraction(V, 1000))
  text = (
      f"The ideal gas law PV = nRT links pressure P (Pa), volume V (m^3), amount n (mol) and "
      f"absolute temperature T (K) through the gas constant R ≈ 8.314 J/(mol·K). Temperatures "
      f"must be in kelvin: T = °C + 273.15.\n\n"
      f"{num(n)} mol of gas at {T_c} °C ({num(T)} K) in a {V} L container (V = "
      f"{num(Fraction(V, 1000), 3)} m^3) exerts a pressure of P = nRT/V = {num(n)} × 8.314 × "
      f"{num(T)} / {num(Fraction(V, 1000), 3)} ≈ {num(P, 0)} Pa, about {num(P / 1000, 1)} kPa or "
      f"{num(P / 101325, 3)} atm, since 1 atm = 101325 Pa.\n\n"
      f"Special cases follow from the law. At constant temperature, pressure and volume are "
      f"inversely proportional (Boyle's law): halving the volume to {num(Fraction(V, 2))} L "
      f"doubles the pressure to about {num(2 * P / 1000, 1)} kPa. At constant pressure, volume "
      f"is proportional to absolute temperature (Charles's law): heating from {num(T)} K to "
      f"{num(T + 100)} K multiplies the volume by {num((T + 100) / T, 4)}. At 0 °C and 1 atm "
      f"one mole of an ideal gas occupies about 22.41 L, the molar volume; at 25 °C and 1 atm "
      f"it is about 24.47 L.")
  return f"The ideal gas law: {num(n)} mol in {V} L at {T_c} °C", text


def c_solutions(r: random.Random):
  name, comp, formula = r.choice([c for c in _COMPOUNDS if c[0] in (
      "sodium chloride", "glucose", "potassium chloride", "copper(II) sulfate", "sulfuric acid")])
  M = molar_mass(comp)
  grams = r.choice([5, 10, 20, 29, 50, 58])
  vol_ml = r.choice([100, 250, 500, 1000])
  c1 = Fraction(grams) / M / Fraction(vol_ml, 1000)
  v_final = r.choice([2, 4, 5, 10]) * vol_ml
  c2 = c1 * vol_ml / v_final
  text = (
      f"Molarity is moles of solute per litre of solution, written mol/L or M. Dissolving "
      f"{grams} g of {name} ({formula}, molar mass {num(M, 3)} g/mol) gives {grams} / "
      f"{num(M, 3)} = {num(Fraction(grams) / M, 4)} mol. Made up to {vol_ml} mL of solution, the "
      f"concentration is {num(Fraction(grams) / M, 4)} mol / {num(Fraction(vol_ml, 1000), 3)} L "
      f"= {num(c1, 4)} M. The mass concentration is {num(Fraction(grams * 1000, vol_ml), 3)} g/L."
      f"\n\nDilution adds solvent but not solute, so the moles stay the same and "
      f"C1V1 = C2V2. Diluting the {vol_ml} mL to {v_final} mL lowers the concentration to "
      f"{num(c1, 4)} × {vol_ml} / {v_final} = {num(c2, 4)} M, a dilution factor of "
      f"{v_final // vol_ml}. To make 250 mL of a 0.1 M solution from this stock, take "
      f"V1 = 0.1 × 250 / {num(c1, 4)} ≈ {num(Fraction(25) / c1, 3)} mL of stock and add water "
      f"to 250 mL.\n\n"
      f"A 50 mL portion of the original solution contains {num(c1 * Fraction(50, 1000), 5)} mol, "
      f"or {num(c1 * Fraction(50, 1000) * M, 4)} g, of {name}. Percent by mass (w/v) is grams "
      f"per 100 mL: the stock is {num(Fraction(grams * 100, vol_ml), 3)}% w/v.")
  return f"Molarity and dilution of {name}", text


# (name, symbol, Z, some isotopes' mass numbers, charges of its common ions)
_ISOTOPES = [("carbon", "C", 6, [12, 13, 14], []), ("oxygen", "O", 8, [16, 17, 18], [-2]),
             ("chlorine", "Cl", 17, [35, 37], [-1]), ("uranium", "U", 92, [235, 238], []),
             ("iron", "Fe", 26, [54, 56, 57, 58], [2, 3]), ("hydrogen", "H", 1, [1, 2, 3], []),
             ("sodium", "Na", 11, [23], [1]), ("neon", "Ne", 10, [20, 21, 22], []),
             ("calcium", "Ca", 20, [40, 44], [2]), ("copper", "Cu", 29, [63, 65], [1, 2]),
             ("magnesium", "Mg", 12, [24, 25, 26], [2]), ("potassium", "K", 19, [39, 41], [1])]


def c_atoms(r: random.Random):
  name, sym, Z, masses, ions = r.choice(_ISOTOPES)
  A = r.choice(masses)
  charge = r.choice(ions + [0]) if ions else 0
  electrons = Z - charge
  shells, left = [], Z
  for cap in (2, 8, 8, 2):
    take = min(cap, left)
    if take:
      shells.append(take)
    left -= take
  text = (
      f"An atom has a nucleus of protons and neutrons surrounded by electrons. The atomic "
      f"number Z is the number of protons and identifies the element; the mass number A is "
      f"the number of protons plus neutrons. {name.capitalize()} has Z = {Z}.\n\n"
      f"The isotope {name}-{A} ({A}{sym}) has {Z} proton{plural(Z)} and {A} − {Z} = {A - Z} "
      f"neutron{plural(A - Z)}. "
      f"Isotopes of an element have the same number of protons but different numbers of "
      + (f"neutrons; the isotopes of {name} listed here have mass numbers "
         f"{', '.join(map(str, masses))}, so their neutron counts are "
         f"{', '.join(str(m - Z) for m in masses)}.\n\n" if len(masses) > 1 else
         f"neutrons, but {name} has only one stable isotope, {name}-{A}.\n\n")
      + f"A neutral atom has as many electrons as protons, {Z}. "
      + (f"The ion {sym}{'' if abs(charge) == 1 else abs(charge)}{'+' if charge > 0 else '-'} "
         f"has {'lost' if charge > 0 else 'gained'} {abs(charge)} electron"
         f"{'s' if abs(charge) > 1 else ''}, so it has {electrons} electrons and still {Z} "
         f"protons. " if charge else "")
      + (f"In the simple shell model the {Z} electron{plural(Z)} of the neutral atom fill "
         f"shells "
         f"holding 2, 8 and 8 electrons in turn, giving the arrangement "
         f"{'.'.join(map(str, shells))}. " if Z <= 20 else
         f"Beyond calcium (Z = 20) the simple 2, 8, 8 shell picture breaks down and the "
         f"electron configuration needs subshells. ")
      + f"Protons and neutrons each "
      f"have a mass of about 1 u while an electron has about 1/1836 of that, so almost all of "
      f"the atom's mass, about {A} u, is in the nucleus.")
  return f"Protons, neutrons and electrons in {name}-{A}", text


def c_ph(r: random.Random):
  k = r.randint(1, 5)
  conc = Fraction(1, 10 ** k)
  mult = r.choice([2, 5])
  c2 = conc * mult
  ph2 = -math.log10(float(c2))
  text = (
      f"The pH of a solution measures its acidity: pH = −log10[H+], where [H+] is the "
      f"concentration of hydrogen ions in mol/L. Pure water at 25 °C has [H+] = 10^-7 M and "
      f"pH 7, which is neutral; lower pH is acidic and higher pH is basic. In water at 25 °C, "
      f"[H+][OH-] = 10^-14, so pH + pOH = 14.\n\n"
      f"Hydrochloric acid is a strong acid and dissociates completely, so a {num(conc, k)} M HCl "
      f"solution has [H+] = 10^-{k} M and pH {k}. Its hydroxide concentration is "
      f"10^-{14 - k} M and its pOH is {14 - k}. Diluting it tenfold raises the pH by one unit, "
      f"to {k + 1}, because each pH unit is a factor of ten in [H+]. A {num(c2, k)} M HCl "
      f"solution has pH −log10({num(c2, k)}) ≈ {num(ph2, 2)}.\n\n"
      f"A strong base works the same way through pOH: {num(conc, k)} M NaOH has [OH-] = "
      f"10^-{k} M, pOH {k} and pH {14 - k}. Mixing equal volumes of {num(conc, k)} M HCl and "
      f"{num(conc, k)} M NaOH neutralises both, HCl + NaOH → NaCl + H2O, leaving a neutral "
      f"salt solution of pH 7. Neutralising 25 mL of the acid needs 25 mL of the base, since "
      f"they react one to one.")
  return f"pH of a {num(conc, k)} M strong acid", text


def c_heat(r: random.Random):
  subs = [("water", Fraction(4184, 1000)), ("aluminium", Fraction(897, 1000)),
          ("iron", Fraction(449, 1000)), ("copper", Fraction(385, 1000))]
  name, c = r.choice(subs)
  m = r.choice([50, 100, 200, 250, 500, 1000])
  T1, T2 = r.choice([(20, 80), (15, 100), (25, 60), (10, 40), (20, 100)])
  q = m * c * (T2 - T1)
  text = (
      f"The heat needed to change the temperature of a substance is q = mcΔT, where m is "
      f"the mass, c the specific heat capacity and ΔT the temperature change. The specific "
      f"heat of {name} is about {num(c, 3)} J/(g·°C): that many joules raise one gram by one "
      f"degree.\n\n"
      f"Heating {m} g of {name} from {T1} °C to {T2} °C (ΔT = {T2 - T1} °C) needs q = {m} × "
      f"{num(c, 3)} × {T2 - T1} = {num(q, 1)} J, or {num(q / 1000, 3)} kJ. A 1000 W heater "
      f"would supply this in {num(q / 1000, 2)} s if no heat were lost. The same mass of "
      f"water would need {num(m * Fraction(4184, 1000) * (T2 - T1), 1)} J, since water's "
      f"specific heat is unusually high.\n\n"
      f"Phase changes need heat without changing temperature. Melting ice at 0 °C takes about "
      f"334 J/g, and boiling water at 100 °C takes about 2260 J/g, so turning {m} g of water "
      f"at 100 °C into steam needs {num(m * 2260)} J. The calorie, 4.184 J, is the heat that "
      f"raises 1 g of water by 1 °C; {num(q, 1)} J is {num(q / Fraction(4184, 1000), 1)} "
      f"calories. When hot and cold water mix with no losses, the heat lost by one equals the "
      f"heat gained by the other: 100 g at 80 °C and 100 g at 20 °C end at 50 °C.")
  return f"Heating {m} g of {name} from {T1} °C to {T2} °C", text


FAMILIES = {
    "arithmetic": [a_prime_factors, a_gcd_lcm, a_fractions, a_percent, a_mean_median,
                   a_bases, a_division, a_sci_notation],
    "algebra": [b_linear, b_system, b_quadratic, b_arith_seq, b_geom_seq, b_interest, b_line,
                b_word_problem],
    "geometry": [g_box, g_circle, g_right_triangle, g_polygon, g_solids, g_coordinates,
                 g_similar],
    "units": [u_length, u_speed, u_mass_volume, u_temperature, u_time, u_area_volume,
              u_prefixes],
    "physics": [p_kinematics, p_free_fall, p_newton, p_energy, p_circuits,
                p_density_pressure, p_waves, p_momentum],
    "chemistry": [c_molar_mass, c_moles, c_stoichiometry, c_gas_law, c_solutions, c_atoms,
                  c_ph, c_heat],
}


def documents() -> list[dict]:
  """All documents, deterministic."""
  r = random.Random(SEED)
  docs, seen = [], set()
  for topic in TOPICS:
    k = 0
    for fam in FAMILIES[topic]:
      made, tries = 0, 0
      while made < PER_FAMILY and tries < 50:
        tries += 1
        title, body = fam(r)
        text = f"{title}\n\n{body}"
        words = len(text.split())
        if text in seen or title in {d["title"] for d in docs}:
          continue
        if not MIN_WORDS <= words <= MAX_WORDS:
          raise ValueError(f"{fam.__name__}: {words} words")
        seen.add(text)
        k += 1
        made += 1
        docs.append(dict(id=f"demo-{topic}-{k:03d}", topic=topic, title=title, text=text))
  return docs


def write(out_dir: str = OUT_DIR) -> list[str]:
  docs = documents()
  paths = []
  for topic in TOPICS:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
      for d in docs:
        if d["topic"] == topic:
          gz.write((json.dumps(d, ensure_ascii=False) + "\n").encode("utf-8"))
    path = os.path.join(out_dir, f"{topic}.jsonl.gz")
    with open(path, "wb") as f:
      f.write(buf.getvalue())
    paths.append(path)
  return paths


if __name__ == "__main__":
  for p in write():
    print(p)
  d = documents()
  w = [len(x["text"].split()) for x in d]
  print(f"{len(d)} documents, words min {min(w)} mean {sum(w) / len(w):.0f} max {max(w)}")
