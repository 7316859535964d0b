// Comparing a kernel's output with a double-precision reference, element by element, against a
// per-element tolerance; a failure prints the worst element, its index and both values.
#pragma once

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

namespace alpha::test {

// The element furthest outside its tolerance (NaN counts as infinitely far).
struct Worst {
  double excess = 0, got = 0, want = 0;
  int64_t index = -1;
  void update(double have, double expected, double tolerance, int64_t i) {
    const double e = std::isnan(have) ? 1e30 : std::abs(have - expected) / tolerance;
    if (e > excess) excess = e, got = have, want = expected, index = i;
  }
  std::string describe(const std::string& what) const {
    return fmt::format("worst {} at {}: got {:.9g}, want {:.9g} ({:.3g} x tolerance)", what, index, got, want,
                       excess);
  }
};

// CHECKs |got - want| <= tolerance for every element.
inline void check_close(const std::string& what, const std::vector<float>& got, const std::vector<double>& want,
                        const std::vector<double>& tolerance) {
  Worst worst;
  for (size_t i = 0; i < got.size(); ++i) worst.update(got[i], want[i], tolerance[i], static_cast<int64_t>(i));
  INFO(worst.describe(what));
  CHECK(worst.excess <= 1.0);
}

}  // namespace alpha::test
