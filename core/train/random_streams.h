#pragma once
// The random streams of a run: each derived from its seed and a salt of its own, so that none
// depends on how many numbers another drew (and a resumed run draws what it would have). One
// place for the classifier and generator trainers and the generated batches. Free of LibTorch.

#include <cstdint>

namespace isda::train {

// SplitMix64 of the pair (seed, salt): independent streams per purpose and epoch.
inline uint64_t mix(uint64_t seed, uint64_t salt) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (salt + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace isda::train
