extension String {
    /// The text without surrounding blanks and line ends, as sysfs attributes and tools print it.
    public var trimmedLine: String {
        var slice = Substring(self)
        while let last = slice.last, last.isWhitespace || last == "\0" { slice.removeLast() }
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        return String(slice)
    }
}
