import DroverProtocol

/// How the `acp` driver answers an agent's `session/request_permission` until such requests become
/// Drover decision gates: a tool call the role's `allowedTools` lists is allowed (once), any other rejected
/// (once). An entry names an ACP tool kind (`read`, `edit`, `delete`, `move`, `search`, `execute`, `think`,
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
        let preference = allowed ? ["allow_once", "allow_always"] : ["reject_once", "reject_always"]
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
