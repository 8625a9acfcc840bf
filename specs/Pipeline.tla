------------------------------ MODULE Pipeline ------------------------------
(***************************************************************************)
(* One call through the composition of CONTRACT section 2.7, as           *)
(* `__pipeline!` / `__attempt!` in resilience-runtime/src/layers.rs write  *)
(* it once for the attributes, `Pipeline::run` and the facade:            *)
(*                                                                         *)
(*   retry -> circuit breaker -> timeout -> bulkhead -> discover -> body   *)
(*                                                                         *)
(* The layers themselves are abstract (their own specs describe them):    *)
(* each may refuse (CircuitOpen, BulkheadFull, NoInstance), the body ends  *)
(* with a success, an error or a panic, the timeout may fire while the     *)
(* attempt waits for a slot, picks an instance or runs the body, and the   *)
(* caller may drop the call's future at any point.  What this spec is     *)
(* about is what the composition holds when: the breaker's permit, the    *)
(* timer, the bulkhead's slot and the discovered instance.                *)
(***************************************************************************)
EXTENDS Naturals

CONSTANTS
    MaxRetries  \* max_retries: attempts after the first

ASSUME MaxRetries \in Nat

Outcomes == {"Ok", "Error", "Panic", "Timeout", "CircuitOpen", "BulkheadFull", "NoInstance"}
\* Retried by default (retry_if for operation errors, is_retryable for rejections);
\* a panic is not an outcome the retry loop sees again (it unwinds through it).
Retryable == {"Error", "Timeout", "BulkheadFull", "NoInstance"}
Rejections == {"CircuitOpen", "BulkheadFull", "NoInstance"}

VARIABLES
    pc,        \* where the call is (see Next)
    permit,    \* a breaker permit is held
    timer,     \* the attempt's timeout is armed
    slot,      \* a bulkhead slot is held
    instance,  \* an instance was picked (its in-flight count is up)
    attempts,  \* attempts started
    ran,       \* the body ran in the current attempt
    bodies,    \* bodies run in all
    outcome    \* the last attempt's outcome ("None" before one)

vars == <<pc, permit, timer, slot, instance, attempts, ran, bodies, outcome>>

Init ==
    /\ pc = "Attempt"
    /\ permit = FALSE /\ timer = FALSE /\ slot = FALSE /\ instance = FALSE
    /\ attempts = 0 /\ ran = FALSE /\ bodies = 0 /\ outcome = "None"

Held == <<permit, timer, slot, instance>>

\* An attempt starts (the first, or after a backoff).
Begin ==
    /\ pc = "Attempt"
    /\ pc' = "Breaker" /\ attempts' = attempts + 1 /\ ran' = FALSE
    /\ UNCHANGED <<permit, timer, slot, instance, bodies, outcome>>

\* BreakerLayer::admit: a permit, or CircuitOpen before anything else runs.
Admit ==
    /\ pc = "Breaker"
    /\ \/ /\ permit' = TRUE /\ pc' = "Timeout" /\ UNCHANGED outcome
       \/ /\ pc' = "Settle" /\ outcome' = "CircuitOpen" /\ UNCHANGED permit
    /\ UNCHANGED <<timer, slot, instance, attempts, ran, bodies>>

\* TimeoutLayer::bound: the timer runs around everything inside.
Arm ==
    /\ pc = "Timeout"
    /\ timer' = TRUE /\ pc' = "Bulkhead"
    /\ UNCHANGED <<permit, slot, instance, attempts, ran, bodies, outcome>>

\* BulkheadLayer: a slot (at once or after waiting), or BulkheadFull.
Acquire ==
    /\ pc = "Bulkhead"
    /\ \/ /\ slot' = TRUE /\ pc' = "Discover" /\ UNCHANGED outcome
       \/ /\ pc' = "Settle" /\ outcome' = "BulkheadFull" /\ UNCHANGED slot
    /\ UNCHANGED <<permit, timer, instance, attempts, ran, bodies>>

\* #[discover]: an instance, or NoInstance; then the body starts.
Pick ==
    /\ pc = "Discover"
    /\ \/ /\ instance' = TRUE /\ pc' = "Body"
          /\ ran' = TRUE /\ bodies' = bodies + 1 /\ UNCHANGED outcome
       \/ /\ pc' = "Settle" /\ outcome' = "NoInstance"
          /\ UNCHANGED <<instance, ran, bodies>>
    /\ UNCHANGED <<permit, timer, slot, attempts>>

\* The body returns (or panics).
BodyReturns(o) ==
    /\ pc = "Body"
    /\ pc' = "Settle" /\ outcome' = o
    /\ UNCHANGED <<permit, timer, slot, instance, attempts, ran, bodies>>

\* The timer fires while the attempt waits for a slot, picks or runs: what it
\* bounds is dropped (the body's future, the wait in the queue).
Expire ==
    /\ timer /\ pc \in {"Bulkhead", "Discover", "Body"}
    /\ pc' = "Settle" /\ outcome' = "Timeout"
    /\ UNCHANGED <<permit, timer, slot, instance, attempts, ran, bodies>>

\* The attempt ends: from the inside out, the instance's outcome is reported,
\* the slot released, the timer dropped, and the permit settled (or, with no
\* outcome, dropped).
Settle ==
    /\ pc = "Settle"
    /\ permit' = FALSE /\ timer' = FALSE /\ slot' = FALSE /\ instance' = FALSE
    /\ pc' = IF outcome = "Panic" THEN "Done" ELSE "Decide"
    /\ UNCHANGED <<attempts, ran, bodies, outcome>>

\* Retries::after: a success ends the call; a retryable failure with retries
\* left sleeps the backoff; anything else gives up with the last failure.
Decide ==
    /\ pc = "Decide"
    /\ pc' = IF outcome \in Retryable /\ attempts <= MaxRetries THEN "Backoff" ELSE "Done"
    /\ UNCHANGED <<permit, timer, slot, instance, attempts, ran, bodies, outcome>>

\* The backoff's sleep ends.
Wake ==
    /\ pc = "Backoff"
    /\ pc' = "Attempt"
    /\ UNCHANGED <<permit, timer, slot, instance, attempts, ran, bodies, outcome>>

\* The caller drops the call's future: everything it holds is dropped.
Cancel ==
    /\ pc \notin {"Done", "Cancelled"}
    /\ pc' = "Cancelled"
    /\ permit' = FALSE /\ timer' = FALSE /\ slot' = FALSE /\ instance' = FALSE
    /\ UNCHANGED <<attempts, ran, bodies, outcome>>

Next ==
    \/ Begin \/ Admit \/ Arm \/ Acquire \/ Pick \/ Expire \/ Settle \/ Decide \/ Wake
    \/ \E o \in {"Ok", "Error", "Panic"} : BodyReturns(o)
    \/ Cancel

\* Every step of the composition is eventually taken once enabled; the body
\* eventually returns or the timer fires; the caller may or may not cancel.
Fairness ==
    /\ WF_vars(Begin) /\ WF_vars(Admit) /\ WF_vars(Arm) /\ WF_vars(Acquire)
    /\ WF_vars(Pick) /\ WF_vars(Settle) /\ WF_vars(Decide) /\ WF_vars(Wake)
    /\ WF_vars(\E o \in {"Ok", "Error", "Panic"} : BodyReturns(o) \/ Expire)

Spec == Init /\ [][Next]_vars
FairSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(* Safety.                                                                 *)

TypeOK ==
    /\ pc \in {"Attempt", "Breaker", "Timeout", "Bulkhead", "Discover", "Body", "Settle",
               "Decide", "Backoff", "Done", "Cancelled"}
    /\ permit \in BOOLEAN /\ timer \in BOOLEAN /\ slot \in BOOLEAN /\ instance \in BOOLEAN
    /\ attempts \in 0..(MaxRetries + 1) /\ ran \in BOOLEAN /\ bodies \in 0..attempts
    /\ outcome \in Outcomes \cup {"None"}

\* A rejected attempt (by the breaker, the bulkhead or discovery) ran no body.
RejectedRunsNoBody == outcome \in Rejections /\ pc \in {"Settle", "Decide"} => ~ran

\* The body runs inside every layer: with the permit, the timer, a slot and an
\* instance held.
BodyInsideEveryLayer == pc = "Body" => permit /\ timer /\ slot /\ instance

\* The layers nest in the contract's order: a slot only inside the breaker and
\* the timeout, an instance only inside the slot.
LayersNest == /\ timer => permit /\ slot => timer /\ instance => slot

\* Nothing is held between attempts: no slot, no permit, no timer during a
\* backoff, nor once the call is over.
NothingHeldBetweenAttempts ==
    pc \in {"Attempt", "Decide", "Backoff", "Done", "Cancelled"} =>
        ~permit /\ ~timer /\ ~slot /\ ~instance

\* At most max_retries + 1 attempts, at most one body each.
AttemptBound == attempts <= MaxRetries + 1 /\ bodies <= attempts

Invariants ==
    /\ TypeOK /\ RejectedRunsNoBody /\ BodyInsideEveryLayer /\ LayersNest
    /\ NothingHeldBetweenAttempts /\ AttemptBound

THEOREM Spec => []Invariants

-----------------------------------------------------------------------------
(* Liveness.                                                               *)

\* Every call ends: succeeds, gives up, panics through, or is cancelled.
PipelineEnds == pc \notin {"Done", "Cancelled"} ~> pc \in {"Done", "Cancelled"}

THEOREM FairSpec => PipelineEnds
=============================================================================
\* Checked by verification/src/pipeline.rs (stateright and the fair-cycle
\* search); the real composition by tests/differential.rs. See README.md.
