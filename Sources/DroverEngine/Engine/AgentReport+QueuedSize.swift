extension AgentReport {
    /// Roughly what the report holds in memory while it waits for the engine (its text plus a fixed part).
    var queuedSize: Int {
        switch event {
        case .log(_, let text): return 64 + text.utf8.count
        case .progress(_, let message): return 64 + (message?.utf8.count ?? 0)
        case .usage(let usage): return 64 + usage.model.utf8.count
        case .session(let id): return 64 + id.utf8.count
        case .permission(let request): return 128 + request.question.utf8.count + request.options.reduce(0) { $0 + $1.utf8.count }
        }
    }
}
