/// Serving counters. Reload results only for now: the per-request counters and /metrics
/// are issue 13's third step.
public final class ServingMetrics: @unchecked Sendable {
    public let reloads = ReloadCounter()
}
