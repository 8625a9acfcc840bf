------------------------------- MODULE Retry --------------------------------
(***************************************************************************)
(* Retry (CONTRACT section 2.2) as `RetryConfig::decide` and               *)
(* `RetryConfig::delay` implement it, for one call of the pipeline's retry *)
(* loop (`pipeline::Retries::after`).                                      *)
(*                                                                         *)
(* Time is in whole units (the Rust check maps one unit to 1 ms).  The     *)
(* jitter draw is nondeterministic: a delay is any whole number of units   *)
(* in [nominal * (1 - j), min(nominal * (1 + j), MaxDelay)].  The backoff  *)
(* and max_duration are chosen at Init from `Backoffs` and `MaxDurations`  *)
(* (0 = no max_duration), so one run explores every combination.          *)
(***************************************************************************)
EXTENDS Naturals

CONSTANTS
    MaxRetries,     \* max_retries: attempts after the first
    BaseDelay,      \* base_delay, in units
    MaxDelay,       \* max_delay, in units (>= BaseDelay)
    JitterPct,      \* jitter_factor, in percent (0..100)
    Backoffs,       \* a subset of {"exponential", "linear", "fixed"}
    MaxDurations,   \* max_duration values to explore, in units; 0 = none
    AttemptTimes    \* how long a failed attempt may take, in units

ASSUME /\ MaxRetries \in Nat /\ BaseDelay \in Nat /\ MaxDelay >= BaseDelay
       /\ JitterPct \in 0..100
       /\ Backoffs \subseteq {"exponential", "linear", "fixed"} /\ Backoffs # {}
       /\ \A m \in MaxDurations : m = 0 \/ m > BaseDelay
       /\ AttemptTimes \subseteq Nat /\ AttemptTimes # {}

\* How an attempt can fail.  Operation errors are classified by retry_if;
\* rejections by the framework (ResilienceError::is_retryable).
Errors == {"RetryableError", "OtherError", "Timeout", "BulkheadFull", "NoInstance", "CircuitOpen"}
Retryable == {"RetryableError", "Timeout", "BulkheadFull", "NoInstance"}

VARIABLES
    backoff,      \* the backoff of this call (fixed)
    maxDuration,  \* its max_duration, 0 = none (fixed)
    phase,        \* "Running" an attempt, "Deciding" after a failure, "Succeeded", "GaveUp"
    retries,      \* retries made (Retries::retries_done)
    elapsed,      \* units since the first attempt started
    lastError,    \* the error of the last failed attempt ("None" before one)
    lastDelay     \* the delay slept before the current attempt (0 before a retry)

vars == <<backoff, maxDuration, phase, retries, elapsed, lastError, lastDelay>>

Min(a, b) == IF a < b THEN a ELSE b
RECURSIVE Pow2(_)
Pow2(n) == IF n = 0 THEN 1 ELSE 2 * Pow2(n - 1)

\* RetryConfig::nominal_delay for retry n (1-based).
Nominal(b, n) ==
    CASE b = "fixed" -> BaseDelay
      [] b = "linear" -> BaseDelay * n
      [] b = "exponential" -> BaseDelay * Pow2(n - 1)

\* RetryConfig::delay for retry n, every jitter draw: the capped nominal delay
\* times a factor in [1 - j, 1 + j], capped again at MaxDelay.
DelayRange(b, n) ==
    LET nominal == Min(Nominal(b, n), MaxDelay)
        lo == (nominal * (100 - JitterPct) + 99) \div 100
        hi == Min((nominal * (100 + JitterPct)) \div 100, MaxDelay)
    IN lo..hi

Init ==
    /\ backoff \in Backoffs /\ maxDuration \in MaxDurations
    /\ phase = "Running" /\ retries = 0 /\ elapsed = 0
    /\ lastError = "None" /\ lastDelay = 0

Succeed ==
    /\ phase = "Running"
    /\ phase' = "Succeeded"
    /\ UNCHANGED <<backoff, maxDuration, retries, elapsed, lastError, lastDelay>>

Fail(e, t) ==
    /\ phase = "Running"
    /\ phase' = "Deciding" /\ lastError' = e /\ elapsed' = elapsed + t
    /\ UNCHANGED <<backoff, maxDuration, retries, lastDelay>>

\* RetryDecision::RetryAfter(d): the error is retryable, retries remain, and
\* the next attempt would start before max_duration.
RetryAfter(d) ==
    /\ phase = "Deciding"
    /\ lastError \in Retryable
    /\ retries < MaxRetries
    /\ d \in DelayRange(backoff, retries + 1)
    /\ maxDuration = 0 \/ elapsed + d < maxDuration
    /\ phase' = "Running" /\ retries' = retries + 1
    /\ elapsed' = elapsed + d /\ lastDelay' = d
    /\ UNCHANGED <<backoff, maxDuration, lastError>>

\* RetryDecision::GiveUp: the caller gets the last error.  With max_duration,
\* a jitter draw that would start the next attempt at or after it gives up.
GiveUp ==
    /\ phase = "Deciding"
    /\ \/ lastError \notin Retryable
       \/ retries >= MaxRetries
       \/ /\ maxDuration # 0
          /\ \E d \in DelayRange(backoff, retries + 1) : elapsed + d >= maxDuration
    /\ phase' = "GaveUp"
    /\ UNCHANGED <<backoff, maxDuration, retries, elapsed, lastError, lastDelay>>

\* A finished call stays finished (no deadlock for TLC).
Done ==
    /\ phase \in {"Succeeded", "GaveUp"}
    /\ UNCHANGED vars

Next ==
    \/ Succeed
    \/ \E e \in Errors, t \in AttemptTimes : Fail(e, t)
    \/ \E d \in 0..MaxDelay : RetryAfter(d)
    \/ GiveUp
    \/ Done

Spec == Init /\ [][Next]_vars

(* Fairness: every attempt ends (the body returns, or the timeout layer   *)
(* ends it) and every failure is decided.                                 *)
AttemptEnds == Succeed \/ \E e \in Errors, t \in AttemptTimes : Fail(e, t)
Decide == (\E d \in 0..MaxDelay : RetryAfter(d)) \/ GiveUp
Fairness == WF_vars(AttemptEnds) /\ WF_vars(Decide)

FairSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(* Safety.                                                                 *)

TypeOK ==
    /\ backoff \in Backoffs /\ maxDuration \in MaxDurations
    /\ phase \in {"Running", "Deciding", "Succeeded", "GaveUp"}
    /\ retries \in 0..MaxRetries
    /\ elapsed \in Nat
    /\ lastError \in Errors \cup {"None"}
    /\ lastDelay \in 0..MaxDelay

\* At most max_retries + 1 executions.
AttemptBound == retries <= MaxRetries

\* No attempt starts at or after max_duration.
NoAttemptAfterMaxDuration ==
    phase = "Running" /\ maxDuration # 0 => elapsed < maxDuration

\* Every delay follows the backoff, within the jitter and under max_delay.
DelayWithinBounds ==
    retries > 0 => lastDelay \in DelayRange(backoff, retries) /\ lastDelay <= MaxDelay

\* Only retryable failures are retried: a CircuitOpen fails fast.
OnlyRetryableRetried ==
    phase = "Running" /\ retries > 0 => lastError \in Retryable

\* The call gives up only after a failure, with that failure as its error.
GaveUpOnLastError == phase = "GaveUp" => lastError \in Errors

Invariants ==
    /\ TypeOK /\ AttemptBound /\ NoAttemptAfterMaxDuration /\ DelayWithinBounds
    /\ OnlyRetryableRetried /\ GaveUpOnLastError

THEOREM Spec => []Invariants

-----------------------------------------------------------------------------
(* Liveness.                                                               *)

\* A call that starts eventually succeeds or gives up: retries are bounded
\* and every failure is decided.
CallEnds == phase \in {"Running", "Deciding"} ~> phase \in {"Succeeded", "GaveUp"}

THEOREM FairSpec => CallEnds
=============================================================================
