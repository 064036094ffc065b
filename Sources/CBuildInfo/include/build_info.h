#ifndef DROVER_BUILD_INFO_H
#define DROVER_BUILD_INFO_H

/// The git commit this binary was built from ("unknown" outside a git checkout), with "+dirty" when
/// the work tree had uncommitted changes. Set by Package.swift from SwiftPM's git information.
const char *drover_build_commit(void);

#endif
