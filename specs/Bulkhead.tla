------------------------------ MODULE Bulkhead ------------------------------
(***************************************************************************)
(* The bulkhead of `resilience-runtime` (CONTRACT section 2.4), as the     *)
(* pure transition function `bulkhead::state::step` implements it, with    *)
(* concurrent callers around it.                                           *)
(*                                                                         *)
(* `inFlight`, `queued` and Len(waiting) are the Rust `State`.  `running`, *)
(* `waiting` and `granted` are the environment: which callers run a body,  *)
(* the FIFO queue (`Slots` in bulkhead/slots.rs keeps its waiters in this  *)
(* order), and the waiters already handed a slot whose task has not run    *)
(* again yet (`Queue::granted` in slots.rs).  A granted waiter holds a     *)
(* slot (it counts in `inFlight`, as in `Bulkhead::in_flight`) and still   *)
(* holds its queue place (it counts in `queued`, as the `QueuePlace`       *)
(* counter of bulkhead/driver.rs does until `acquire_queued` returns).     *)
(*                                                                         *)
(* A released slot goes straight to the oldest waiter, in the same step    *)
(* (`Slots::hand_over`): there is no state where a slot is free while      *)
(* somebody waits (NoFreeSlotWhileWaiting, the FIFO invariant of slots.rs).*)
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
    inFlight,  \* State::in_flight: slots handed out (running or granted)
    queued,    \* State::queued: queue places held (waiting or granted)
    running,   \* the callers whose body runs
    waiting,   \* the callers waiting, oldest first (State::waiting is its length)
    granted    \* the callers handed a slot that have not taken it yet

vars == <<inFlight, queued, running, waiting, granted>>

InQueue(c) == \E i \in 1..Len(waiting) : waiting[i] = c
Idle(c) == c \notin running /\ ~InQueue(c) /\ c \notin granted

Init ==
    /\ inFlight = 0 /\ queued = 0
    /\ running = {} /\ waiting = <<>> /\ granted = {}

(* A slot given back (Slots::release): to the oldest waiter if there is   *)
(* one (Decision::HandOver), else to the free count.                      *)
Release ==
    IF waiting # <<>>
    THEN /\ granted' = granted \cup {Head(waiting)}
         /\ waiting' = Tail(waiting)
         /\ inFlight' = inFlight
    ELSE /\ inFlight' = inFlight - 1
         /\ UNCHANGED <<waiting, granted>>

(* Event::Arrive answered Run (a slot is free; then nobody waits, so a    *)
(* newcomer never overtakes the queue) or Wait (the queue has room).      *)
Arrive(c) ==
    /\ Idle(c)
    /\ \/ /\ inFlight < MaxConcurrent
          /\ inFlight' = inFlight + 1 /\ running' = running \cup {c}
          /\ UNCHANGED <<queued, waiting, granted>>
       \/ /\ inFlight = MaxConcurrent
          /\ queued < MaxQueue
          /\ queued' = queued + 1 /\ waiting' = Append(waiting, c)
          /\ UNCHANGED <<inFlight, running, granted>>

(* Event::Arrive answered Reject (BulkheadFull): nothing changes.          *)
Reject(c) ==
    /\ Idle(c)
    /\ inFlight = MaxConcurrent
    /\ queued = MaxQueue
    /\ UNCHANGED vars

(* Event::Start: a granted waiter's task runs again and takes its slot    *)
(* (the `Acquire` future resolves, `acquire_queued` drops its place).      *)
Start(c) ==
    /\ c \in granted
    /\ granted' = granted \ {c} /\ running' = running \cup {c}
    /\ queued' = queued - 1
    /\ UNCHANGED <<inFlight, waiting>>

(* Event::Finish: a body finished or its future was dropped; the permit   *)
(* is released either way, to the oldest waiter if there is one.          *)
Finish(c) ==
    /\ c \in running
    /\ running' = running \ {c}
    /\ Release
    /\ UNCHANGED queued

(* Event::Leave: a queued caller was dropped or waited max_wait; it leaves *)
(* from wherever it is in the queue.                                       *)
Leave(c) ==
    /\ \/ /\ InQueue(c)
          /\ waiting' = SelectSeq(waiting, LAMBDA x : x # c)
          /\ UNCHANGED <<inFlight, granted>>
       \* A granted one passes its slot on, as Release does.
       \/ /\ c \in granted
          /\ waiting = <<>>
          /\ granted' = granted \ {c} /\ inFlight' = inFlight - 1
          /\ UNCHANGED waiting
       \/ /\ c \in granted
          /\ waiting # <<>>
          /\ granted' = (granted \ {c}) \cup {Head(waiting)}
          /\ waiting' = Tail(waiting)
          /\ UNCHANGED inFlight
    /\ queued' = queued - 1
    /\ UNCHANGED running

Next ==
    \E c \in Callers : Arrive(c) \/ Reject(c) \/ Start(c) \/ Finish(c) \/ Leave(c)

(* Fairness: a running body eventually finishes (an assumption about the   *)
(* caller's code, which the bulkhead cannot enforce: max_wait is for the   *)
(* waiters, not the runners) and a granted waiter's task eventually runs   *)
(* again (tokio wakes it: `hand_over` returns its waker).                  *)
Fairness == \A c \in Callers : WF_vars(Finish(c)) /\ WF_vars(Start(c))

Spec == Init /\ [][Next]_vars
FairSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(* Safety.                                                                 *)

TypeOK ==
    /\ inFlight \in 0..MaxConcurrent
    /\ queued \in 0..MaxQueue
    /\ running \subseteq Callers
    /\ waiting \in Seq(Callers)
    /\ granted \subseteq Callers

\* Never more slots handed out than exist (State::within_bounds).
ConcurrencyBound == inFlight <= MaxConcurrent

\* Never more queue places than the queue holds (State::within_bounds).
QueueBound == queued <= MaxQueue

\* Every slot handed out belongs to a running or a granted caller: a finished
\* or cancelled body releases its permit, so no slot leaks.
PermitsAccounted == inFlight = Cardinality(running) + Cardinality(granted)

\* Every queue place belongs to a waiting or a granted caller.
QueueAccounted == queued = Len(waiting) + Cardinality(granted)

\* A caller is in at most one place: running, granted, or once in the queue.
OnePlaceEach ==
    /\ \A c \in running : ~InQueue(c) /\ c \notin granted
    /\ \A c \in granted : ~InQueue(c)
    /\ \A i, j \in 1..Len(waiting) : i # j => waiting[i] # waiting[j]

\* The FIFO invariant of slots.rs: while somebody waits, no slot is free
\* (the word's waiting bit is set exactly when the queue is not empty, and
\* then its free count is 0).
NoFreeSlotWhileWaiting == waiting # <<>> => inFlight = MaxConcurrent

Invariants ==
    /\ TypeOK /\ ConcurrencyBound /\ QueueBound /\ PermitsAccounted
    /\ QueueAccounted /\ OnePlaceEach /\ NoFreeSlotWhileWaiting

THEOREM Spec => []Invariants

-----------------------------------------------------------------------------
(* Liveness.                                                               *)

\* A caller that queues eventually runs its body or leaves the queue
\* (cancelled or max_wait): FIFO hand-over starves nobody.
QueuedEventuallyServed ==
    \A c \in Callers : InQueue(c) ~> (c \in running \/ Idle(c))

THEOREM FairSpec => QueuedEventuallyServed
=============================================================================
\* Checked by verification/src/bulkhead.rs (stateright) and
\* verification/src/liveness.rs (fair cycles), see README.md.
