#ifndef KVMPLAN_CLIBYAML_SHIM_H
#define KVMPLAN_CLIBYAML_SHIM_H
// The static archive is linked, so no dllimport decoration is wanted.
#define YAML_DECLARE_STATIC 1
#include <yaml.h>
#endif
