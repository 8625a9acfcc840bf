------------------------------ MODULE Bulkhead ------------------------------
(***************************************************************************)
(* The bulkhead of `resilience-runtime` (CONTRACT section 2.4), as the     *)
(* pure transition function `bulkhead::state::step` implements it, with    *)
(* concurrent callers around it.                                           *)
(*                                                                         *)
(* `inFlight` and `queued` are the Rust `State`.  `running` and `waiting`  *)
(* are the environment: which callers run a body, and the FIFO queue       *)
(* (`Slots` in bulkhead/slots.rs keeps its waiters in this order).        *)
(* max_wait and cancellation are the same event for a queued caller:       *)
(* Leave, enabled at any time (the timer is not modelled).                 *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    Callers,        \* callers arriving concurrently
    MaxConcurrent,  \* max_concurrent_calls (>= 1)
    MaxQueue        \* max_queue_size (>= 0)

ASSUME MaxConcurrent \in Nat \ {0} /\ MaxQueue \in Nat

VARIABLES
    inFlight,  \* State::in_flight: bodies running
    queued,    \* State::queued: callers waiting
    running,   \* the callers whose body runs
    waiting    \* the callers waiting, oldest first

vars == <<inFlight, queued, running, waiting>>

InQueue(c) == \E i \in 1..Len(waiting) : waiting[i] = c
Idle(c) == c \notin running /\ ~InQueue(c)

Init ==
    /\ inFlight = 0 /\ queued = 0
    /\ running = {} /\ waiting = <<>>

(* Event::Arrive answered Run (a slot is free and nobody waits: a newcomer *)
(* never overtakes the queue) or Wait (the queue has room).                *)
Arrive(c) ==
    /\ Idle(c)
    /\ \/ /\ inFlight < MaxConcurrent /\ queued = 0
          /\ inFlight' = inFlight + 1 /\ running' = running \cup {c}
          /\ UNCHANGED <<queued, waiting>>
       \/ /\ ~(inFlight < MaxConcurrent /\ queued = 0)
          /\ queued < MaxQueue
          /\ queued' = queued + 1 /\ waiting' = Append(waiting, c)
          /\ UNCHANGED <<inFlight, running>>

(* Event::Arrive answered Reject (BulkheadFull): nothing changes.          *)
Reject(c) ==
    /\ Idle(c)
    /\ ~(inFlight < MaxConcurrent /\ queued = 0)
    /\ queued = MaxQueue
    /\ UNCHANGED vars

(* Event::Admit: a slot is free; the head of the queue takes it.           *)
Admit ==
    /\ waiting # <<>> /\ inFlight < MaxConcurrent
    /\ inFlight' = inFlight + 1 /\ queued' = queued - 1
    /\ running' = running \cup {Head(waiting)}
    /\ waiting' = Tail(waiting)

(* Event::Finish: a body finished or its future was dropped; the permit   *)
(* is released either way.                                                *)
Finish(c) ==
    /\ c \in running
    /\ inFlight' = inFlight - 1 /\ running' = running \ {c}
    /\ UNCHANGED <<queued, waiting>>

(* Event::Leave: a queued caller was dropped or waited max_wait; it leaves *)
(* from wherever it is in the queue.                                       *)
Leave(c) ==
    /\ InQueue(c)
    /\ queued' = queued - 1
    /\ waiting' = SelectSeq(waiting, LAMBDA x : x # c)
    /\ UNCHANGED <<inFlight, running>>

Next ==
    \/ Admit
    \/ \E c \in Callers : Arrive(c) \/ Reject(c) \/ Finish(c) \/ Leave(c)

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Safety.                                                                 *)

TypeOK ==
    /\ inFlight \in 0..MaxConcurrent
    /\ queued \in 0..MaxQueue
    /\ running \subseteq Callers
    /\ waiting \in Seq(Callers)

\* Never more bodies than slots (State::within_bounds).
ConcurrencyBound == inFlight <= MaxConcurrent

\* Never more waiters than the queue holds (State::within_bounds).
QueueBound == queued <= MaxQueue

\* Every slot taken belongs to a running caller: a finished or cancelled body
\* releases its permit, so no slot leaks.
PermitsAccounted == inFlight = Cardinality(running)

\* Every place in the queue belongs to a waiting caller.
QueueAccounted == queued = Len(waiting)

\* A caller is in at most one place: running, or once in the queue.
OnePlaceEach ==
    /\ \A c \in running : ~InQueue(c)
    /\ \A i, j \in 1..Len(waiting) : i # j => waiting[i] # waiting[j]

Invariants ==
    /\ TypeOK /\ ConcurrencyBound /\ QueueBound /\ PermitsAccounted
    /\ QueueAccounted /\ OnePlaceEach

THEOREM Spec => []Invariants
=============================================================================
