//! The symbols we export into the host process, and nothing else.
//!
//! Each hook is a few lines: it calls safe code and turns its `Result` into `-1`/errno. A panic
//! (a bug of ours) is caught here and degrades to the plain call, so it never crosses the C
//! boundary.

use crate::{rewrite, sys};
use libc::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// `socket(2)`, with TCP stream sockets turned into MPTCP ones where the kernel allows.
///
/// # Safety
/// Called by C code with integer arguments only; it has no pointer preconditions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| rewrite::socket(domain, ty, protocol)))
        .unwrap_or_else(|_| sys::next_socket(domain, ty, protocol));
    sys::to_c(result)
}
