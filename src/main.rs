//! The `troubleshoot-agent` binary.

// Loading 10,000 job files makes millions of small allocations on two threads; glibc's malloc
// spent a large share of `validate` and `plan` in allocation, freeing and page faults.
// mimalloc builds from bundled C with the `cc` crate, which aws-lc-sys already needs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    troubleshoot_agent::cli::main()
}
