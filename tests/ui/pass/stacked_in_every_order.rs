//! All five attributes stacked in every one of the 120 orders: whichever expands first collects
//! the others, and the pipeline is the same (fallback → retry → circuit breaker → timeout →
//! bulkhead → body).
//!
//! Generated: `stacked_<order>` names the attributes by initial, outermost first.
use resilience::{ResilienceError, bulkhead, circuit_breaker, fallback, retry, timeout};

#[derive(Debug)]
pub enum MyError {
    Down,
    Rejected(ResilienceError),
}

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError::Rejected(error)
    }
}

async fn cached(id: u64, name: String) -> Result<String, MyError> {
    Ok(format!("cached {name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
async fn stacked_crtbf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_crtfb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[fallback(cached)]
async fn stacked_crbtf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[timeout("1s")]
async fn stacked_crbft(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_crftb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
async fn stacked_crfbt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
async fn stacked_ctrbf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_ctrfb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
async fn stacked_ctbrf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_ctbfr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_ctfrb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_ctfbr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[fallback(cached)]
async fn stacked_cbrtf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[timeout("1s")]
async fn stacked_cbrft(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
async fn stacked_cbtrf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_cbtfr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
async fn stacked_cbfrt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_cbftr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_cfrtb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
async fn stacked_cfrbt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_cftrb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_cftbr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
async fn stacked_cfbrt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_cfbtr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
async fn stacked_rctbf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_rctfb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[fallback(cached)]
async fn stacked_rcbtf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[timeout("1s")]
async fn stacked_rcbft(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_rcftb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
async fn stacked_rcfbt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
async fn stacked_rtcbf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_rtcfb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
async fn stacked_rtbcf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_rtbfc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_rtfcb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_rtfbc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[fallback(cached)]
async fn stacked_rbctf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[timeout("1s")]
async fn stacked_rbcft(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
async fn stacked_rbtcf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_rbtfc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
async fn stacked_rbfct(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_rbftc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_rfctb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
async fn stacked_rfcbt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_rftcb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_rftbc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
async fn stacked_rfbct(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_rfbtc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
async fn stacked_tcrbf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_tcrfb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
async fn stacked_tcbrf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_tcbfr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_tcfrb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_tcfbr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
async fn stacked_trcbf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_trcfb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
async fn stacked_trbcf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_trbfc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_trfcb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_trfbc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
async fn stacked_tbcrf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_tbcfr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
async fn stacked_tbrcf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_tbrfc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_tbfcr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_tbfrc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_tfcrb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_tfcbr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_tfrcb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_tfrbc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_tfbcr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[timeout("1s")]
#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_tfbrc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[fallback(cached)]
async fn stacked_bcrtf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[timeout("1s")]
async fn stacked_bcrft(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
async fn stacked_bctrf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_bctfr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
async fn stacked_bcfrt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_bcftr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[fallback(cached)]
async fn stacked_brctf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[timeout("1s")]
async fn stacked_brcft(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
async fn stacked_brtcf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_brtfc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
async fn stacked_brfct(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_brftc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
async fn stacked_btcrf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_btcfr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[fallback(cached)]
async fn stacked_btrcf(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_btrfc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_btfcr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_btfrc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
async fn stacked_bfcrt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_bfctr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
async fn stacked_bfrct(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_bfrtc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_bftcr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_bftrc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_fcrtb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
async fn stacked_fcrbt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_fctrb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_fctbr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
async fn stacked_fcbrt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_fcbtr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_frctb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
async fn stacked_frcbt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_frtcb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_frtbc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
async fn stacked_frbct(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_frbtc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_ftcrb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_ftcbr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
async fn stacked_ftrcb(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
async fn stacked_ftrbc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_ftbcr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_ftbrc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
async fn stacked_fbcrt(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_fbctr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
#[timeout("1s")]
async fn stacked_fbrct(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_fbrtc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
async fn stacked_fbtcr(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

#[fallback(cached)]
#[bulkhead(max_concurrent_calls = 4)]
#[timeout("1s")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[circuit_breaker(max_failures = 3)]
async fn stacked_fbtrc(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{name}#{id}"))
}

async fn use_them() -> Result<(), MyError> {
    stacked_crtbf(1, String::new()).await?;
    stacked_crtfb(1, String::new()).await?;
    stacked_crbtf(1, String::new()).await?;
    stacked_crbft(1, String::new()).await?;
    stacked_crftb(1, String::new()).await?;
    stacked_crfbt(1, String::new()).await?;
    stacked_ctrbf(1, String::new()).await?;
    stacked_ctrfb(1, String::new()).await?;
    stacked_ctbrf(1, String::new()).await?;
    stacked_ctbfr(1, String::new()).await?;
    stacked_ctfrb(1, String::new()).await?;
    stacked_ctfbr(1, String::new()).await?;
    stacked_cbrtf(1, String::new()).await?;
    stacked_cbrft(1, String::new()).await?;
    stacked_cbtrf(1, String::new()).await?;
    stacked_cbtfr(1, String::new()).await?;
    stacked_cbfrt(1, String::new()).await?;
    stacked_cbftr(1, String::new()).await?;
    stacked_cfrtb(1, String::new()).await?;
    stacked_cfrbt(1, String::new()).await?;
    stacked_cftrb(1, String::new()).await?;
    stacked_cftbr(1, String::new()).await?;
    stacked_cfbrt(1, String::new()).await?;
    stacked_cfbtr(1, String::new()).await?;
    stacked_rctbf(1, String::new()).await?;
    stacked_rctfb(1, String::new()).await?;
    stacked_rcbtf(1, String::new()).await?;
    stacked_rcbft(1, String::new()).await?;
    stacked_rcftb(1, String::new()).await?;
    stacked_rcfbt(1, String::new()).await?;
    stacked_rtcbf(1, String::new()).await?;
    stacked_rtcfb(1, String::new()).await?;
    stacked_rtbcf(1, String::new()).await?;
    stacked_rtbfc(1, String::new()).await?;
    stacked_rtfcb(1, String::new()).await?;
    stacked_rtfbc(1, String::new()).await?;
    stacked_rbctf(1, String::new()).await?;
    stacked_rbcft(1, String::new()).await?;
    stacked_rbtcf(1, String::new()).await?;
    stacked_rbtfc(1, String::new()).await?;
    stacked_rbfct(1, String::new()).await?;
    stacked_rbftc(1, String::new()).await?;
    stacked_rfctb(1, String::new()).await?;
    stacked_rfcbt(1, String::new()).await?;
    stacked_rftcb(1, String::new()).await?;
    stacked_rftbc(1, String::new()).await?;
    stacked_rfbct(1, String::new()).await?;
    stacked_rfbtc(1, String::new()).await?;
    stacked_tcrbf(1, String::new()).await?;
    stacked_tcrfb(1, String::new()).await?;
    stacked_tcbrf(1, String::new()).await?;
    stacked_tcbfr(1, String::new()).await?;
    stacked_tcfrb(1, String::new()).await?;
    stacked_tcfbr(1, String::new()).await?;
    stacked_trcbf(1, String::new()).await?;
    stacked_trcfb(1, String::new()).await?;
    stacked_trbcf(1, String::new()).await?;
    stacked_trbfc(1, String::new()).await?;
    stacked_trfcb(1, String::new()).await?;
    stacked_trfbc(1, String::new()).await?;
    stacked_tbcrf(1, String::new()).await?;
    stacked_tbcfr(1, String::new()).await?;
    stacked_tbrcf(1, String::new()).await?;
    stacked_tbrfc(1, String::new()).await?;
    stacked_tbfcr(1, String::new()).await?;
    stacked_tbfrc(1, String::new()).await?;
    stacked_tfcrb(1, String::new()).await?;
    stacked_tfcbr(1, String::new()).await?;
    stacked_tfrcb(1, String::new()).await?;
    stacked_tfrbc(1, String::new()).await?;
    stacked_tfbcr(1, String::new()).await?;
    stacked_tfbrc(1, String::new()).await?;
    stacked_bcrtf(1, String::new()).await?;
    stacked_bcrft(1, String::new()).await?;
    stacked_bctrf(1, String::new()).await?;
    stacked_bctfr(1, String::new()).await?;
    stacked_bcfrt(1, String::new()).await?;
    stacked_bcftr(1, String::new()).await?;
    stacked_brctf(1, String::new()).await?;
    stacked_brcft(1, String::new()).await?;
    stacked_brtcf(1, String::new()).await?;
    stacked_brtfc(1, String::new()).await?;
    stacked_brfct(1, String::new()).await?;
    stacked_brftc(1, String::new()).await?;
    stacked_btcrf(1, String::new()).await?;
    stacked_btcfr(1, String::new()).await?;
    stacked_btrcf(1, String::new()).await?;
    stacked_btrfc(1, String::new()).await?;
    stacked_btfcr(1, String::new()).await?;
    stacked_btfrc(1, String::new()).await?;
    stacked_bfcrt(1, String::new()).await?;
    stacked_bfctr(1, String::new()).await?;
    stacked_bfrct(1, String::new()).await?;
    stacked_bfrtc(1, String::new()).await?;
    stacked_bftcr(1, String::new()).await?;
    stacked_bftrc(1, String::new()).await?;
    stacked_fcrtb(1, String::new()).await?;
    stacked_fcrbt(1, String::new()).await?;
    stacked_fctrb(1, String::new()).await?;
    stacked_fctbr(1, String::new()).await?;
    stacked_fcbrt(1, String::new()).await?;
    stacked_fcbtr(1, String::new()).await?;
    stacked_frctb(1, String::new()).await?;
    stacked_frcbt(1, String::new()).await?;
    stacked_frtcb(1, String::new()).await?;
    stacked_frtbc(1, String::new()).await?;
    stacked_frbct(1, String::new()).await?;
    stacked_frbtc(1, String::new()).await?;
    stacked_ftcrb(1, String::new()).await?;
    stacked_ftcbr(1, String::new()).await?;
    stacked_ftrcb(1, String::new()).await?;
    stacked_ftrbc(1, String::new()).await?;
    stacked_ftbcr(1, String::new()).await?;
    stacked_ftbrc(1, String::new()).await?;
    stacked_fbcrt(1, String::new()).await?;
    stacked_fbctr(1, String::new()).await?;
    stacked_fbrct(1, String::new()).await?;
    stacked_fbrtc(1, String::new()).await?;
    stacked_fbtcr(1, String::new()).await?;
    stacked_fbtrc(1, String::new()).await?;
    Ok(())
}

fn main() {
    let _ = use_them();
}
