import DroverProtocol

/// A step whose output is a JSON list of subtasks, each run as a child run of another pipeline:
/// `"fanOut": {"pipeline": id, "maxChildren"?: 1…50 (8), "allowFailures"?: false}`.
public struct FanOutSpec: Codable, Sendable, Hashable {
    /// The pipeline every child runs.
    public var pipeline: String
    /// More subtasks than this fail the step.
    public var maxChildren: Int
    /// Whether the step goes on when a child fails or is cancelled (its change is then left out).
    public var allowFailures: Bool

    public static let defaultMaxChildren = 8
    static let maxChildrenLimit = 50
    static let fields = ["allowFailures", "maxChildren", "pipeline"]

    public init(pipeline: String, maxChildren: Int = FanOutSpec.defaultMaxChildren, allowFailures: Bool = false) {
        self.pipeline = pipeline
        self.maxChildren = maxChildren
        self.allowFailures = allowFailures
    }

    /// Reads the `fanOut` field; messages start with the field's path.
    static func validate(_ value: JSONValue) -> (FanOutSpec?, [String]) {
        guard let object = value.objectValue else {
            return (nil, ["field 'fanOut' must be an object like {\"pipeline\": \"implement\", \"maxChildren\": 8}"])
        }
        var errors: [String] = []
        for key in object.keys.sorted() where !fields.contains(key) {
            errors.append("field 'fanOut.\(key)' is unknown (allowed: \(fields.joined(separator: ", ")))")
        }
        guard let pipeline = object["pipeline"]?.stringValue, Identifiers.isValidID(pipeline) else {
            return (nil, errors + ["field 'fanOut.pipeline' is required: the id of the pipeline each child run follows"])
        }
        var spec = FanOutSpec(pipeline: pipeline)
        switch object["maxChildren"] {
        case nil: break
        case .int(let count) where (1...maxChildrenLimit).contains(count): spec.maxChildren = count
        default: errors.append("field 'fanOut.maxChildren' must be a whole number from 1 to \(maxChildrenLimit)")
        }
        switch object["allowFailures"] {
        case nil: break
        case .bool(let flag): spec.allowFailures = flag
        default: errors.append("field 'fanOut.allowFailures' must be true or false")
        }
        return errors.isEmpty ? (spec, []) : (nil, errors)
    }
}
