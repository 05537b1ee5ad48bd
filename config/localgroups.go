package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
)

// LocalGroupsReadyValue is the value of the node label
// hostprocess.dev/local-groups-ready that says "every group of groups exists
// on this node": 16 hexadecimal digits of the SHA-256 of the groups, folded
// to lower case as Windows compares them (ASCII only, as EqualFoldASCII),
// without duplicates, sorted, as a JSON list. The node executor sets it once
// it has created allowedLocalGroups, and the mutating webhook's local-group
// node affinity (defaults.localGroupNodeAffinity) requires it, so a node
// prepared for another list of groups takes no pod that runs as one of them
// until its executor has created the new list.
func LocalGroupsReadyValue(groups []string) string {
	folded := make([]string, 0, len(groups))
	for _, g := range groups {
		folded = append(folded, foldASCII(g))
	}
	slices.Sort(folded)
	folded = slices.Compact(folded)
	list, _ := json.Marshal(folded) // a []string always marshals
	sum := sha256.Sum256(list)
	return hex.EncodeToString(sum[:])[:16]
}
