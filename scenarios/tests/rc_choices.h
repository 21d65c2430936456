// RapidCheck as a ChoiceSource: every pick of the generator is a value drawn inside the running property, so
// RapidCheck records the picks and shrinks a failing scenario by shrinking them towards 0 (the simplest option).
// Header-only and test-only: the scenarios library never depends on RapidCheck.
//
//   RC_GTEST_PROP(Generator, RunsOk, ()) {
//     rrefsim::scenarios::testing::RcChoices choices;
//     auto generated = rrefsim::scenarios::Generate(choices, {});
//     ...
//   }
#pragma once

#include <rapidcheck.h>

#include <cstdint>

#include "rrefsim/scenarios/generator.h"

namespace rrefsim::scenarios::testing {

// Only usable inside a RapidCheck property (the * operator draws from the current test case). Picks are uniform
// over [0, n) whatever RapidCheck's size: inRange alone scales with the size, which made 44% of a 100-case run's
// scenarios exercise no fork shape at all (its early cases draw picks near 0). Shrinking still goes towards 0.
class RcChoices : public ChoiceSource {
 protected:
  std::uint64_t Draw(std::uint64_t n) override {
    return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange<std::uint64_t>(0, n));
  }
};

}  // namespace rrefsim::scenarios::testing
