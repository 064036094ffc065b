import DroverProtocol

/// How the `acp` driver answers an agent's `session/request_permission` by itself: a tool call the role's
/// `allowedTools` (or a person's "allow for this run") lists is allowed (once); any other is rejected (once),
/// or, with `permissionMode: "ask"`, becomes a decision whose options are the agent's own (`ACPPermissionOptions`).
/// An entry names an ACP tool kind (`read`, `edit`, `delete`, `move`, `search`, `execute`, `think`,
/// `fetch`, `other`) or the start of a tool call's title (`"git status"` allows the command `git status -s`).
struct ACPPermissionPolicy: Sendable {
    let allowedTools: [String]

    /// The answer to a permission request, and whether it allows the call.
    struct Answer: Equatable {
        /// The `outcome` object of the response.
        var outcome: JSONValue
        var allowed: Bool
        /// The chosen option's name ("Allow", "Reject"), or nil when the agent offered none that fits.
        var optionName: String?
    }

    func allows(kind: String?, title: String) -> Bool {
        allowedTools.contains { entry in
            entry == kind || title == entry || title.hasPrefix(entry + " ")
        }
    }

    /// The option to select among `options` (each with `optionId`, `name`, `kind`): the narrowest that
    /// says what the policy decided; `cancelled` when the agent offered none.
    func answer(kind: String?, title: String, options: [JSONValue]) -> Answer {
        let allowed = allows(kind: kind, title: title)
        return Self.select(allowed ? ["allow_once", "allow_always"] : ["reject_once", "reject_always"],
                           allowed: allowed, options: options)
    }

    private static func select(_ preference: [String], allowed: Bool, options: [JSONValue]) -> Answer {
        for wanted in preference {
            if let option = options.first(where: { $0["kind"]?.stringValue == wanted }),
               let id = option["optionId"]?.stringValue {
                return Answer(outcome: .object(["outcome": .string("selected"), "optionId": .string(id)]),
                              allowed: allowed, optionName: option["name"]?.stringValue ?? id)
            }
        }
        return Answer(outcome: .object(["outcome": .string("cancelled")]), allowed: false, optionName: nil)
    }
}

/// The options an agent offers in one `session/request_permission`, as a decision shows them: the agent's
/// names (made unique; the `optionId` where a name is missing) and kinds, in the agent's order. An option
/// of a kind drover does not know is left out: nobody could tell what choosing it does.
struct ACPPermissionOptions: Sendable, Hashable {
    private(set) var names: [String] = []
    private(set) var kinds: [PermissionOptionKind] = []
    private var ids: [String] = []

    init(_ options: [JSONValue]) {
        for option in options {
            guard let id = option["optionId"]?.stringValue,
                  let kind = option["kind"]?.stringValue.flatMap(PermissionOptionKind.init(rawValue:)) else { continue }
            let name = option["name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? id
            var unique = name
            var number = 2
            while names.contains(unique) {
                unique = "\(name) (\(number))"
                number += 1
            }
            names.append(unique)
            kinds.append(kind)
            ids.append(id)
        }
    }

    var isEmpty: Bool { names.isEmpty }

    /// The response's `outcome` for a person's answer: the chosen option, or `cancelled` when the request
    /// was withdrawn (the run was cancelled) or the choice is not one of these options.
    func outcome(for answer: AgentAnswer) -> JSONValue {
        guard case .chosen(let choice, _) = answer, let index = names.firstIndex(of: choice) else {
            return .object(["outcome": .string("cancelled")])
        }
        return .object(["outcome": .string("selected"), "optionId": .string(ids[index])])
    }
}
