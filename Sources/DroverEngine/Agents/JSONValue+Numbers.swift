import DroverProtocol

/// Numbers as agents write them: JSON does not tell integers from floats, and agents write `3` and `3.0`
/// for the same count.
extension JSONValue {
    /// An integer, or a finite float truncated to one.
    var integerValue: Int? {
        switch self {
        case .int(let number): number
        case .double(let number) where number.isFinite && abs(number) < 9e18: Int(number)
        default: nil
        }
    }

    var numberValue: Double? {
        switch self {
        case .int(let number): Double(number)
        case .double(let number) where number.isFinite: number
        default: nil
        }
    }

    /// An integer written as one and greater than zero (a count in a setting: `maxTurns`).
    var positiveInteger: Int? {
        if case .int(let number) = self, number > 0 { return number }
        return nil
    }

    var positiveNumber: Double? {
        numberValue.flatMap { $0 > 0 ? $0 : nil }
    }

    var nonNegativeNumber: Double? {
        numberValue.flatMap { $0 >= 0 ? $0 : nil }
    }
}
