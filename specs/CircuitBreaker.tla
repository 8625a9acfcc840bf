--------------------------- MODULE CircuitBreaker ---------------------------
(***************************************************************************)
(* The circuit breaker of `resilience-runtime` (CONTRACT section 2.1), as  *)
(* the pure transition function `circuit_breaker::state::step` implements  *)
(* it, with concurrent callers around it.                                  *)
(*                                                                         *)
(* The breaker's own variables are the fields of the Rust `State`:         *)
(* `phase`, `failures` (Phase::Closed), `admitted`/`succeeded`             *)
(* (Phase::HalfOpen), `epoch`, and the Open phase's `until` abstracted to  *)
(* two booleans: `forced` (until = FOREVER, after force_open) and          *)
(* `elapsed` (now >= until).  `permit` is the environment: the permit each *)
(* caller holds (its admission epoch and whether it is a half-open trial). *)
(*                                                                         *)
(* Both modes are explored in one run: `mode` is chosen at Init from       *)
(* `Modes` and never changes.  In rate mode the sliding window (window.rs) *)
(* is abstracted away: any outcome recorded in Closed may trip it (Trip).  *)
(*                                                                         *)
(* Every action is atomic: the driver (breaker.rs) applies `step` to one   *)
(* AtomicU64 with a compare-and-swap loop (loom checks that part).         *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    Callers,          \* callers running concurrently
    Modes,            \* a non-empty subset of {"consecutive", "rate"}
    MaxFailures,      \* consecutive mode: opens at this many failures in a row
    HalfOpenAllowed,  \* trials admitted in HalfOpen; all must succeed to close
    MaxEpoch          \* bound on the epochs explored (state constraint only)

ASSUME /\ Modes \subseteq {"consecutive", "rate"} /\ Modes # {}
       /\ MaxFailures \in Nat \ {0}
       /\ HalfOpenAllowed \in Nat \ {0}
       /\ MaxEpoch \in Nat

VARIABLES
    mode,       \* "consecutive" (max_failures) or "rate" (failure_rate)
    phase,      \* "Closed", "Open" or "HalfOpen"
    failures,   \* Closed, consecutive mode: failures in a row
    forced,     \* Open: until = FOREVER (force_open), only reset() leaves it
    elapsed,    \* Open: the reset timeout has elapsed (now >= until)
    admitted,   \* HalfOpen: trials admitted and not cancelled
    succeeded,  \* HalfOpen: trials that succeeded
    epoch,      \* transitions so far (the Rust word keeps it modulo 2^14)
    permit      \* permit[c]: the permit caller c holds

vars == <<mode, phase, failures, forced, elapsed, admitted, succeeded, epoch, permit>>
breaker == <<phase, failures, forced, elapsed, admitted, succeeded, epoch>>

NoPermit == [held |-> FALSE, epoch |-> 0, trial |-> FALSE]
Permit(e, t) == [held |-> TRUE, epoch |-> e, trial |-> t]

\* c holds a permit of the current epoch.
Current(c) == permit[c].held /\ permit[c].epoch = epoch
\* The callers running a half-open trial of this epoch.
Trials == {c \in Callers : Current(c) /\ permit[c].trial}

Init ==
    /\ mode \in Modes
    /\ phase = "Closed"
    /\ failures = 0 /\ forced = FALSE /\ elapsed = FALSE
    /\ admitted = 0 /\ succeeded = 0
    /\ epoch = 0
    /\ permit = [c \in Callers |-> NoPermit]

(* Transitions: each starts a new epoch and clears the other phases' data. *)
GoOpen(isForced) ==
    /\ phase' = "Open" /\ forced' = isForced /\ elapsed' = FALSE
    /\ failures' = 0 /\ admitted' = 0 /\ succeeded' = 0
    /\ epoch' = epoch + 1
GoClosed ==
    /\ phase' = "Closed" /\ forced' = FALSE /\ elapsed' = FALSE
    /\ failures' = 0 /\ admitted' = 0 /\ succeeded' = 0
    /\ epoch' = epoch + 1

Release(c) == permit' = [permit EXCEPT ![c] = NoPermit]

(* Event::Acquire answered Admitted: Closed admits everyone; an Open      *)
(* breaker whose timeout elapsed becomes HalfOpen and admits the caller as *)
(* its first trial; HalfOpen admits while a trial slot is free.            *)
Acquire(c) ==
    /\ ~permit[c].held
    /\ \/ /\ phase = "Closed"
          /\ permit' = [permit EXCEPT ![c] = Permit(epoch, FALSE)]
          /\ UNCHANGED breaker
       \/ /\ phase = "Open" /\ elapsed
          /\ phase' = "HalfOpen" /\ forced' = FALSE /\ elapsed' = FALSE
          /\ failures' = 0 /\ admitted' = 1 /\ succeeded' = 0
          /\ epoch' = epoch + 1
          /\ permit' = [permit EXCEPT ![c] = Permit(epoch + 1, TRUE)]
       \/ /\ phase = "HalfOpen" /\ admitted < HalfOpenAllowed
          /\ admitted' = admitted + 1
          /\ permit' = [permit EXCEPT ![c] = Permit(epoch, TRUE)]
          /\ UNCHANGED <<phase, failures, forced, elapsed, succeeded, epoch>>
    /\ UNCHANGED mode

(* Event::Acquire answered Rejected (CircuitOpen): nothing changes.        *)
Reject(c) ==
    /\ ~permit[c].held
    /\ \/ phase = "Open" /\ ~elapsed
       \/ phase = "HalfOpen" /\ admitted = HalfOpenAllowed
    /\ UNCHANGED vars

(* Event::Success: a stale outcome (earlier epoch) is ignored.             *)
Succeed(c) ==
    /\ permit[c].held
    /\ Release(c)
    /\ IF ~Current(c) THEN UNCHANGED breaker
       ELSE IF phase = "HalfOpen"
            THEN IF succeeded + 1 >= HalfOpenAllowed
                 THEN GoClosed
                 ELSE /\ succeeded' = succeeded + 1
                      /\ UNCHANGED <<phase, failures, forced, elapsed, admitted, epoch>>
            ELSE \* Closed (Open admits nobody of its own epoch): the count restarts
                 /\ failures' = 0
                 /\ UNCHANGED <<phase, forced, elapsed, admitted, succeeded, epoch>>
    /\ UNCHANGED mode

(* Event::Failure.  In rate mode a failure in Closed only feeds the        *)
(* window (see Trip); any failure of a trial reopens (the timer restarts). *)
Fail(c) ==
    /\ permit[c].held
    /\ Release(c)
    /\ IF ~Current(c) THEN UNCHANGED breaker
       ELSE IF phase = "HalfOpen" THEN GoOpen(FALSE)
       ELSE IF mode = "rate" THEN UNCHANGED breaker
       ELSE IF failures + 1 >= MaxFailures THEN GoOpen(FALSE)
       ELSE /\ failures' = failures + 1
            /\ UNCHANGED <<phase, forced, elapsed, admitted, succeeded, epoch>>
    /\ UNCHANGED mode

(* Event::Trip: rate mode, the outcome of c's call (either kind) brought   *)
(* the window of the current Closed epoch to the failure rate.             *)
Trip(c) ==
    /\ mode = "rate"
    /\ Current(c) /\ phase = "Closed"
    /\ Release(c)
    /\ GoOpen(FALSE)
    /\ UNCHANGED mode

(* Event::Cancel: the permit was dropped before an outcome.  A trial of   *)
(* the current epoch frees its slot; anything else changes nothing.        *)
Cancel(c) ==
    /\ permit[c].held
    /\ Release(c)
    /\ IF Current(c) /\ permit[c].trial
       THEN /\ admitted' = admitted - 1
            /\ UNCHANGED <<phase, failures, forced, elapsed, succeeded, epoch>>
       ELSE UNCHANGED breaker
    /\ UNCHANGED mode

(* Time passes: the reset timeout of a (not forced) Open phase elapses.   *)
Tick ==
    /\ phase = "Open" /\ ~forced /\ ~elapsed
    /\ elapsed' = TRUE
    /\ UNCHANGED <<mode, phase, failures, forced, admitted, succeeded, epoch, permit>>

(* Event::Reset (reset()) and Event::ForceOpen (force_open()).            *)
Reset == GoClosed /\ UNCHANGED <<mode, permit>>
ForceOpen == GoOpen(TRUE) /\ UNCHANGED <<mode, permit>>

Next ==
    \/ \E c \in Callers :
          Acquire(c) \/ Reject(c) \/ Succeed(c) \/ Fail(c) \/ Trip(c) \/ Cancel(c)
    \/ Tick \/ Reset \/ ForceOpen

Spec == Init /\ [][Next]_vars

(* Fairness: time passes (Tick), every caller keeps calling, and every    *)
(* admitted call eventually ends, with an outcome or dropped (CallEnds).  *)
(* Reset and ForceOpen are the operator's, with no fairness.              *)
CallEnds(c) == Succeed(c) \/ Fail(c) \/ Trip(c) \/ Cancel(c)
Fairness ==
    /\ WF_vars(Tick)
    /\ \A c \in Callers : WF_vars(Acquire(c)) /\ WF_vars(CallEnds(c))

FairSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(* Safety.                                                                 *)

TypeOK ==
    /\ mode \in Modes
    /\ phase \in {"Closed", "Open", "HalfOpen"}
    /\ failures \in 0..MaxFailures
    /\ forced \in BOOLEAN /\ elapsed \in BOOLEAN
    /\ admitted \in 0..HalfOpenAllowed /\ succeeded \in 0..HalfOpenAllowed
    /\ epoch \in Nat
    /\ permit \in [Callers -> {NoPermit} \cup [held : {TRUE}, epoch : Nat, trial : BOOLEAN]]
    \* Fields outside their phase are zero, as in the Rust enum `Phase`.
    /\ phase # "Closed" => failures = 0
    /\ phase # "Open" => ~forced /\ ~elapsed
    /\ phase # "HalfOpen" => admitted = 0 /\ succeeded = 0

\* Closed never holds the threshold: reaching it opens (State::invariant_holds).
ClosedBelowThreshold ==
    phase = "Closed" =>
        IF mode = "consecutive" THEN failures < MaxFailures ELSE failures = 0

\* HalfOpen never admits more than its trials nor counts more successes than
\* it admitted (State::invariant_holds).
HalfOpenBound ==
    phase = "HalfOpen" => succeeded <= admitted /\ admitted <= HalfOpenAllowed

\* Concurrent callers: `admitted` is exactly the trials running plus those
\* that succeeded, so a cancelled trial frees its slot and no slot leaks.
TrialsAccounted ==
    phase = "HalfOpen" => admitted = Cardinality(Trials) + succeeded

\* A permit of the current epoch is a trial exactly when the breaker is HalfOpen.
TrialsOnlyInHalfOpen ==
    \A c \in Callers : Current(c) => (permit[c].trial <=> phase = "HalfOpen")

\* Open has admitted nobody in its own epoch, so every outcome it receives is
\* stale and ignored (the last arm of `step`).
OpenAdmitsNobody ==
    phase = "Open" => \A c \in Callers : ~Current(c)

\* force_open() holds until reset(), whatever the reset timeout.
ForcedOpenWaitsForReset == forced => ~elapsed

\* Permits come from the current or an earlier epoch, never a later one.
EpochsMonotonic == \A c \in Callers : permit[c].held => permit[c].epoch <= epoch

Invariants ==
    /\ TypeOK /\ ClosedBelowThreshold /\ HalfOpenBound /\ TrialsAccounted
    /\ TrialsOnlyInHalfOpen /\ OpenAdmitsNobody /\ ForcedOpenWaitsForReset
    /\ EpochsMonotonic

THEOREM Spec => []Invariants

-----------------------------------------------------------------------------
(* Liveness.                                                               *)

\* An Open breaker that was not forced open eventually leaves Open (its next
\* call after the reset timeout becomes a trial), unless force_open() comes
\* first.  A forced one waits for reset(), which nothing makes happen.
OpenEventuallyProbes ==
    (phase = "Open" /\ ~forced) ~> (phase # "Open" \/ forced)

THEOREM FairSpec => OpenEventuallyProbes

\* State constraint for model checking: epochs are unbounded in the spec.
EpochBound == epoch <= MaxEpoch
=============================================================================
