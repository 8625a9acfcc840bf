-------------------------- MODULE ServiceDiscovery --------------------------
(***************************************************************************)
(* Service discovery (CONTRACT section 5) as `resilience-discovery`'s      *)
(* `ServiceDiscovery` over a `MemoryRegistry` implements it, for one       *)
(* service seen by one process.                                            *)
(*                                                                         *)
(* Registration with or without a lease (store.rs: grant + put,            *)
(* keep_alive, the reaper deleting a lease's instances, delete); active    *)
(* health (`set_healthy`); passive health (outlier.rs: consecutive        *)
(* failures eject, never beyond MaxEjectedPct of the service's healthy     *)
(* instances and never the last healthy one, a readmitted instance is on   *)
(* probation and one failure ejects it again); picks (route.rs, catalog.rs:*)
(* only eligible instances of the process's environment, or, when fewer    *)
(* than PanicThresholdPct of them are eligible but some are, any instance  *)
(* of the environment: Envoy's panic mode).                                *)
(*                                                                         *)
(* Time is not modelled: Expire is "the lease's TTL passed without a       *)
(* KeepAlive", Readmit is "the ejection's duration passed".  `picked` and  *)
(* `ejecting` describe the step just taken (every other step clears them), *)
(* so the rules about a pick and an ejection are state invariants.         *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, TLC

CONSTANTS
    Instances,            \* the instance ids of the service
    Envs,                 \* environments instances register in (metadata `env`)
    ProcessEnvs,          \* environments the process may run in (DiscoveryConfig::env)
    ConsecutiveFailures,  \* OutlierConfig::consecutive_failures (>= 1)
    MaxEjectedPct,        \* OutlierConfig::max_ejected_percent (0..100)
    PanicThresholdPct     \* DiscoveryConfig::panic_threshold_percent (0..100)

ASSUME /\ ConsecutiveFailures \in Nat \ {0} /\ MaxEjectedPct \in 0..100
       /\ PanicThresholdPct \in 0..100
       /\ ProcessEnvs \subseteq Envs /\ ProcessEnvs # {}

NoEnv == "none"
NoPick == "none"

VARIABLES
    env,         \* the process's environment (fixed)
    registered,  \* the instances in the registry
    envOf,       \* each instance's `env` metadata (NoEnv when not registered)
    lease,       \* "none", "live" (registered under a lease) or "expired"
    healthy,     \* Endpoint::healthy
    ejected,     \* the instances whose Endpoint::ejected is set
    probation,   \* the instances whose Endpoint::on_probation is set
    failures,    \* Endpoint::consecutive_failures (capped at ConsecutiveFailures)
    picked,      \* the instance the step just taken picked, or NoPick
    ejecting     \* whether the step just taken ejected an instance

vars == <<env, registered, envOf, lease, healthy, ejected, probation, failures,
          picked, ejecting>>

Min(a, b) == IF a < b THEN a ELSE b

\* What `discover` lists and balancers pick from.
Eligible(i) ==
    /\ i \in registered /\ healthy[i] /\ i \notin ejected
    /\ envOf[i] = env

\* The registered instances of the process's environment (catalog.rs `in_env`).
InEnv(i) == i \in registered /\ envOf[i] = env
InEnvSet == {i \in Instances : InEnv(i)}
EligibleSet == {i \in Instances : Eligible(i)}

\* Those of them active health checks pass, ejected or not (catalog.rs `healthy`):
\* the base of the ejection limit.
HealthySet == {i \in InEnvSet : healthy[i]}

\* outlier.rs `ejection_limit`: MaxEjectedPct of the healthy instances, and
\* never all of them (one healthy instance is never ejected).
EjectionLimit ==
    LET h == Cardinality(HealthySet) IN
    Min((h * MaxEjectedPct) \div 100, IF h = 0 THEN 0 ELSE h - 1)

\* outlier.rs: a place in the ejection limit is free.
EjectionAllowed == Cardinality(ejected) < EjectionLimit

\* discovery.rs `update_panic`: fewer than PanicThresholdPct of the
\* environment's instances are eligible, but some are (with none, a call is
\* refused: NoInstance).
Panic ==
    /\ EligibleSet # {}
    /\ Cardinality(EligibleSet) * 100 < PanicThresholdPct * Cardinality(InEnvSet)

\* What balancers pick from (catalog.rs `pickable`).
Pickable(i) == IF Panic THEN InEnv(i) ELSE Eligible(i)

Init ==
    /\ env \in ProcessEnvs
    /\ registered = {} /\ envOf = [i \in Instances |-> NoEnv]
    /\ lease = [i \in Instances |-> "none"]
    /\ healthy = [i \in Instances |-> TRUE]
    /\ ejected = {} /\ probation = {}
    /\ failures = [i \in Instances |-> 0]
    /\ picked = NoPick /\ ejecting = FALSE

\* A new endpoint: healthy, not ejected, no failures (Endpoint::new).
Add(i, e, l) ==
    /\ i \notin registered
    /\ registered' = registered \cup {i}
    /\ envOf' = [envOf EXCEPT ![i] = e]
    /\ lease' = [lease EXCEPT ![i] = l]
    /\ healthy' = [healthy EXCEPT ![i] = TRUE]
    /\ failures' = [failures EXCEPT ![i] = 0]
    /\ UNCHANGED <<env, ejected, probation>>
    /\ picked' = NoPick /\ ejecting' = FALSE

\* The endpoint is gone; an ejected one gives its place in the limit back
\* (release_ejection).
Remove(i, l) ==
    /\ i \in registered
    /\ registered' = registered \ {i}
    /\ envOf' = [envOf EXCEPT ![i] = NoEnv]
    /\ lease' = [lease EXCEPT ![i] = l]
    /\ healthy' = [healthy EXCEPT ![i] = TRUE]
    /\ ejected' = ejected \ {i} /\ probation' = probation \ {i}
    /\ failures' = [failures EXCEPT ![i] = 0]
    /\ UNCHANGED env
    /\ picked' = NoPick /\ ejecting' = FALSE

\* ServiceDiscovery::register: put without a lease.
Register(i, e) == Add(i, e, "none")

\* ServiceDiscovery::register_with_lease: grant, then put under the lease.
RegisterWithLease(i, e) == Add(i, e, "live")

\* ServiceDiscovery::heartbeat: keep_alive renews the lease; nothing visible.
KeepAlive(i) ==
    /\ lease[i] = "live"
    /\ UNCHANGED <<env, registered, envOf, lease, healthy, ejected, probation, failures>>
    /\ picked' = NoPick /\ ejecting' = FALSE

\* The reaper: the TTL passed without a keep-alive; the lease's instance is
\* deleted.
Expire(i) ==
    /\ lease[i] = "live"
    /\ Remove(i, "expired")

\* ServiceDiscovery::deregister.
Deregister(i) == Remove(i, "none")

\* ServiceDiscovery::set_healthy (active health checks).
SetHealthy(i, b) ==
    /\ i \in registered
    /\ healthy' = [healthy EXCEPT ![i] = b]
    /\ UNCHANGED <<env, registered, envOf, lease, ejected, probation, failures>>
    /\ picked' = NoPick /\ ejecting' = FALSE

\* ServiceDiscovery::pick / discover_one: any balancer returns a pickable
\* instance (which one is the balancer's business).
Pick(i) ==
    /\ Pickable(i)
    /\ picked' = i /\ ejecting' = FALSE
    /\ UNCHANGED <<env, registered, envOf, lease, healthy, ejected, probation, failures>>

\* ServiceDiscovery::report(call, Success) for the call just picked.
Succeed(i) ==
    /\ picked = i
    /\ failures' = [failures EXCEPT ![i] = 0]
    /\ probation' = probation \ {i}
    /\ UNCHANGED <<env, registered, envOf, lease, healthy, ejected>>
    /\ picked' = NoPick /\ ejecting' = FALSE

\* ServiceDiscovery::report(call, Failure | Timeout) for the call just picked:
\* enough consecutive failures, or one on probation, eject the instance if the
\* limit has a place free; otherwise the failure is only counted.
Fail(i) ==
    /\ picked = i
    /\ LET f == Min(failures[i] + 1, ConsecutiveFailures) IN
       IF (f >= ConsecutiveFailures \/ i \in probation)
          /\ i \notin ejected /\ EjectionAllowed
       THEN /\ ejected' = ejected \cup {i}
            /\ probation' = probation \ {i}
            /\ failures' = [failures EXCEPT ![i] = 0]
            /\ ejecting' = TRUE
       ELSE /\ failures' = [failures EXCEPT ![i] = f]
            /\ UNCHANGED <<ejected, probation>>
            /\ ejecting' = FALSE
    /\ UNCHANGED <<env, registered, envOf, lease, healthy>>
    /\ picked' = NoPick

\* The ejection's duration passed: readmitted, on probation.
Readmit(i) ==
    /\ i \in ejected
    /\ ejected' = ejected \ {i} /\ probation' = probation \cup {i}
    /\ UNCHANGED <<env, registered, envOf, lease, healthy, failures>>
    /\ picked' = NoPick /\ ejecting' = FALSE

Next ==
    \E i \in Instances :
        \/ \E e \in Envs : Register(i, e) \/ RegisterWithLease(i, e)
        \/ KeepAlive(i) \/ Expire(i) \/ Deregister(i)
        \/ \E b \in BOOLEAN : SetHealthy(i, b)
        \/ Pick(i) \/ Succeed(i) \/ Fail(i) \/ Readmit(i)

Spec == Init /\ [][Next]_vars

(* Fairness: an ejection's duration eventually passes (outlier.rs          *)
(* `readmit_at` sleeps until the deadline, then readmits).  No             *)
(* fairness on registration, health or calls: the process and its callers  *)
(* may do nothing for ever.                                                *)
Fairness == \A i \in Instances : WF_vars(Readmit(i))

FairSpec == Spec /\ Fairness

\* Instances are interchangeable (the Rust checker reduces by it too).
Symmetry == Permutations(Instances)

-----------------------------------------------------------------------------
(* Safety.                                                                 *)

TypeOK ==
    /\ env \in ProcessEnvs
    /\ registered \subseteq Instances
    /\ envOf \in [Instances -> Envs \cup {NoEnv}]
    /\ lease \in [Instances -> {"none", "live", "expired"}]
    /\ healthy \in [Instances -> BOOLEAN]
    /\ ejected \subseteq Instances /\ probation \subseteq Instances
    /\ failures \in [Instances -> 0..ConsecutiveFailures]
    /\ picked \in Instances \cup {NoPick}
    /\ ejecting \in BOOLEAN

\* Only registered instances have an environment; every registered one has one.
EnvOnlyWhenRegistered == \A i \in Instances : (envOf[i] # NoEnv) = (i \in registered)

\* A live lease holds a registered instance; an expired lease's instance is gone.
LeasesAccounted ==
    \A i \in Instances :
        /\ lease[i] = "live" => i \in registered
        /\ lease[i] = "expired" => i \notin registered

\* Ejection and probation are states of registered endpoints, never both.
EjectedRegistered ==
    /\ ejected \subseteq registered /\ probation \subseteq registered
    /\ ejected \cap probation = {}

\* Outside panic mode a pick returns only an eligible instance: registered,
\* healthy, not ejected, of the process's environment.
PickedEligible == picked # NoPick /\ ~Panic => Eligible(picked)

\* In panic mode, still an instance of the process's environment that is
\* registered.
PickedRegistered == picked # NoPick => InEnv(picked)

\* Environments never mix: nothing of another environment is ever picked.
EnvironmentsNeverMix == picked # NoPick => envOf[picked] = env

\* An ejection never takes more than MaxEjectedPct of the service's healthy
\* instances out (at most half with the default 50).
EjectionBound ==
    ejecting => Cardinality(ejected) * 100 <= Cardinality(HealthySet) * MaxEjectedPct

\* An ejection never causes an outage: some healthy instance stays in.
NeverEjectsTheLastHealthy ==
    ejecting => HealthySet \ ejected # {}

\* Failures are counted only for instances in the registry.
FailuresOfRegistered == \A i \in Instances : failures[i] > 0 => i \in registered

Invariants ==
    /\ TypeOK /\ EnvOnlyWhenRegistered /\ LeasesAccounted /\ EjectedRegistered
    /\ PickedEligible /\ PickedRegistered /\ EnvironmentsNeverMix
    /\ EjectionBound /\ NeverEjectsTheLastHealthy /\ FailuresOfRegistered

THEOREM Spec => []Invariants

-----------------------------------------------------------------------------
(* Liveness.                                                               *)

\* An ejection ends: an ejected instance is eventually readmitted (on
\* probation) or leaves the registry (deregistered, or its lease expired);
\* no ejection lasts for ever, whatever the calls and the health checks do.
EjectionEnds == \A i \in Instances : (i \in ejected) ~> (i \notin ejected)

THEOREM FairSpec => EjectionEnds
=============================================================================
