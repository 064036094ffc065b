/// The version of this build of Drover.
public enum DroverVersion {
    public static let string = "0.1.0"
}
