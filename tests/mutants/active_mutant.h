// The mutant of one test (core/src/mutants.h), active while the guard lives: every exit from the test, an early
// return of an ASSERT included, puts the production core back.
#pragma once

#include "mutants.h"

namespace rrefsim {

class ActiveMutant {
 public:
  explicit ActiveMutant(core::mutants::Mutant m) { core::mutants::active = m; }
  ~ActiveMutant() { core::mutants::active = core::mutants::Mutant::kNone; }
  ActiveMutant(const ActiveMutant&) = delete;
  ActiveMutant& operator=(const ActiveMutant&) = delete;
};

}  // namespace rrefsim
