package config

import "strings"

/*
Exempt usernames that would exempt everybody. A request is exempt by the
username of whoever sends it; for the pods a controller or a node creates,
that is the controller's or the node's identity, whoever asked for the
workload. So exempting one exempts every pod it creates, for anybody (a user
whose SYSTEM Deployment is only warned about gets a SYSTEM pod). Group names
never match a username: an entry naming one exempts nobody while looking as
if it exempted a whole group. Both are configuration errors.
*/

// exemptUserProblem returns why name may not be an exempt username, or "".
func exemptUserProblem(name string) string {
	const instead = "; exempt a namespace (exemptions.namespaces) or narrow a namespace rule instead"
	switch {
	case name == "system:kube-controller-manager" || name == "system:kube-scheduler" ||
		strings.HasPrefix(name, "system:serviceaccount:kube-system:") && strings.HasSuffix(name, "-controller"):
		return "is the identity of a controller that creates or places pods for other users: exempting it would exempt every pod it creates for anybody" + instead
	case strings.HasPrefix(name, "system:node:"):
		return "is a node's identity: exempting it would exempt every pod the node creates or changes" + instead
	case name == "system:anonymous":
		return "is the identity of every unauthenticated request: exempting it would exempt anybody" + instead
	case isGroup(name):
		return "is a group, not a username, so it never matches a request's user; exempting a group would exempt every member" + instead
	}
	return ""
}

// isGroup reports whether name is one of Kubernetes' built-in group names.
func isGroup(name string) bool {
	switch name {
	case "system:authenticated", "system:unauthenticated", "system:serviceaccounts", "system:masters", "system:nodes",
		"system:bootstrappers", "system:monitoring":
		return true
	}
	return strings.HasPrefix(name, "system:serviceaccounts:") || strings.HasPrefix(name, "system:bootstrappers:")
}
