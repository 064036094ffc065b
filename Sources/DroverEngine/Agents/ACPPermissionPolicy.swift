import DroverProtocol

/// How the `acp` driver answers an agent's `session/request_permission` by itself: a tool call the role's
/// `allowedTools` (or a person's "allow for this run") lists is allowed (once); any other is rejected (once),
/// or, with `permissionMode: "ask"`, becomes a decision a person answers (`outcome(for:options:)`). An entry names an ACP tool kind (`read`, `edit`, `delete`, `move`, `search`, `execute`, `think`,
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

    /// The option a person's answer selects: allow once → `allow_once`, allow for this run →
    /// `allow_always` (the agent remembers it for the session), deny → `reject_once`; each falls back to
    /// its sibling when the agent did not offer it.
    static func answer(_ answer: PermissionAnswer, options: [JSONValue]) -> Answer {
        switch answer {
        case .allowOnce: select(["allow_once", "allow_always"], allowed: true, options: options)
        case .allowForRun: select(["allow_always", "allow_once"], allowed: true, options: options)
        case .deny: select(["reject_once", "reject_always"], allowed: false, options: options)
        }
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
