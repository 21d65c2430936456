// SplitMix64 and xoshiro256** follow the public-domain reference code of Blackman and Vigna
// (prng.di.unimi.it); the tests pin their outputs to published reference vectors.
#include "rrefsim/sim/random.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace rrefsim::sim {
namespace {

// __extension__ keeps -Wpedantic quiet: unsigned __int128 is a GCC/Clang extension, and the only portable way
// to get the high half of a 64x64-bit product without a hand-written long multiplication.
__extension__ using Uint128 = unsigned __int128;

constexpr std::uint64_t kGoldenGamma = 0x9e3779b97f4a7c15;

std::uint64_t RotateLeft(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// The SplitMix64 output function alone: a bijection of 64-bit values with full avalanche.
std::uint64_t Mix(std::uint64_t x) {
  std::uint64_t state = x;
  return SplitMix64(state);
}

}  // namespace

std::uint64_t SplitMix64(std::uint64_t& state) {
  std::uint64_t z = (state += kGoldenGamma);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// Mix is a bijection, so for one seed the inner values Mix(seed) ^ stream differ for every stream, and so do
// the outer results; the outer Mix spreads the few differing low bits of the stream number over all 64 bits.
// Hashing the seed first keeps (seed, stream) and (seed ^ 1, stream ^ 1) from colliding.
std::uint64_t SubSeed(std::uint64_t seed, std::uint64_t stream) { return Mix(Mix(seed) ^ stream); }

// Four consecutive SplitMix64 outputs come from four distinct inputs of a bijection, so at most one of them can
// be zero: the state is never all zero, which is the one state xoshiro must avoid (it would stay zero forever).
Rng::Rng(std::uint64_t seed) {
  std::uint64_t state = seed;
  for (std::uint64_t& word : s_) word = SplitMix64(state);
}

Rng::Rng(const std::array<std::uint64_t, 4>& state) {
  if ((state[0] | state[1] | state[2] | state[3]) == 0) {
    throw std::invalid_argument("Rng: the xoshiro256** state must not be all zero");
  }
  for (int i = 0; i < 4; ++i) s_[i] = state[i];
}

std::uint64_t Rng::Next() {
  const std::uint64_t result = RotateLeft(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = RotateLeft(s_[3], 45);
  return result;
}

// Lemire, "Fast Random Integer Generation in an Interval" (2019): the high half of Next() * n is in [0, n).
// Plain multiply-shift over-represents some results by one part in 2^64 / n; rejecting the few products whose
// low half falls below 2^64 mod n removes that bias. The rejection almost never happens (probability n / 2^64),
// and when it does the extra draws are still a pure function of the seed.
std::uint64_t Rng::Below(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("Rng::Below: n must be positive");
  Uint128 product = Uint128{Next()} * n;
  auto low = static_cast<std::uint64_t>(product);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (low < threshold) {
      product = Uint128{Next()} * n;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

std::uint64_t Rng::Between(std::uint64_t lo, std::uint64_t hi) {
  if (lo > hi) {
    throw std::invalid_argument("Rng::Between: lo " + std::to_string(lo) + " > hi " + std::to_string(hi));
  }
  const std::uint64_t span = hi - lo;
  if (span == std::numeric_limits<std::uint64_t>::max()) return Next();  // span + 1 would wrap to 0
  return lo + Below(span + 1);
}

// The top 53 bits fill a double's mantissa exactly: every result is a multiple of 2^-53 below 1.
double Rng::Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

// The draw is taken even when p decides the answer alone, so that the stream position after a Bernoulli does
// not depend on p: a run with drop rate 0 and one with drop rate 0.1 then agree on every later draw's position.
// A NaN p compares false everywhere and so never fires.
bool Rng::Bernoulli(double p) {
  const double u = Unit();
  if (!(p > 0)) return false;
  if (p >= 1) return true;
  return u < p;
}

}  // namespace rrefsim::sim
