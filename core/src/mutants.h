// Deliberately broken variants of the protocol, for proving that every checker can fail (issue 4). They exist only
// in a test target compiled with RRSIM_MUTANTS (tests/mutants/): in every other build Mutated() is a constant false,
// the broken branches compile away, and nothing (no flag, no config) can reach them.
#pragma once

namespace rrefsim::core::mutants {

enum class Mutant {
  kNone,
  kSkipPendingChildPin,     // a parent is not pinned in pendingChildren_ while its child is unconfirmed (G2)
  kSkipGating,              // a request runs its user function before the RRefs in its arguments are confirmed
  kFreeOwnerOnFirstDelete,  // the owner forgets every fork of an RRef on its first RREF_USER_DELETE
  kForgetPendingUser,       // remote() does not keep its own UserRRef in pendingUsers_ until REMOTE_RET
  kAcceptBeforeConfirm,     // a user child sends RREF_CHILD_ACCEPT before the owner answered its FORK_REQUEST
  kSkipUserDelete,          // a UserRRef dies without sending RREF_USER_DELETE (G1)
  kWrongParent,             // a user forks its UserRRef naming the owner as the parent
  kWrongFetchValue,         // the owner answers a fetch with a wrong value
  kLeakForkOnDelete,        // the owner acknowledges RREF_USER_DELETE without deleting the fork
  kLeakPendingFuture,       // a confirmed fork request never decrements numPendingFutures_
};

#ifdef RRSIM_MUTANTS
// The mutant of the current test; one per process at a time (the mutant tests run serially).
extern Mutant active;
inline bool Mutated(Mutant m) { return active == m; }
#else
constexpr bool Mutated(Mutant) { return false; }
#endif

}  // namespace rrefsim::core::mutants
