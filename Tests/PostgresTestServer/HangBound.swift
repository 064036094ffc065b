/// How long the in-memory harnesses' waits (a response, an exit code, an engine event, an agent
/// launch) let their event take before the test counts as hung: 2 minutes.
///
/// A bound, not a pause: every wait returns as soon as its event is there, so a passing test never
/// waits it out. It is this long because the whole `swift test` runs in one process whose cooperative
/// pool has one thread per core: on a busy 2-core machine (load 15-38) the suites running beside a
/// test held it past the earlier 30 s bound with nothing wrong (ConnectionTests' exit codes,
/// EngineTests' run list, EngineOwnershipTests' queued run), each passing in under a second alone.
/// The end-to-end harness waits this long for a process's exit too (`DroverProcess.waitForExit`,
/// `shutdownAndExit`): at load 25 its earlier 10 s let a `drover serve` whose session was ending count as hung.
public let hangBound: Duration = .seconds(120)
