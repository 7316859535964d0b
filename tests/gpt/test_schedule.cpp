// The learning-rate schedule: linear warmup, then cosine/linear decay to min_lr, or constant.
#include <doctest/doctest.h>

#include "common/error.h"
#include "engine/train/trainer.h"

namespace alpha::test {

TEST_CASE("learning rate: warmup, then cosine, linear or constant down to min_lr") {
  train::TrainOptions o;
  o.steps = 101, o.warmup = 10, o.lr = 1.0f, o.min_lr = 0.1f;
  CHECK(train::learning_rate(o, 0) == doctest::Approx(0.1));   // (0+1)/10
  CHECK(train::learning_rate(o, 9) == doctest::Approx(1.0));   // end of warmup
  CHECK(train::learning_rate(o, 10) == doctest::Approx(1.0));  // decay starts at the peak
  // 90 decay steps from step 10 to step 100: the midpoint is step 55
  CHECK(train::learning_rate(o, 55) == doctest::Approx(0.55));  // cosine: min + (max-min)·0.5
  CHECK(train::learning_rate(o, 100) == doctest::Approx(0.1));
  o.schedule = "linear";
  CHECK(train::learning_rate(o, 55) == doctest::Approx(0.55));
  CHECK(train::learning_rate(o, 32) == doctest::Approx(0.1 + 0.9 * (1 - 22.0 / 90)));
  o.schedule = "constant";
  CHECK(train::learning_rate(o, 100) == doctest::Approx(1.0));
  o.schedule = "exponential";
  o.data = {"x"};
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("--schedule=exponential"), alpha::Error);
}

}  // namespace alpha::test
