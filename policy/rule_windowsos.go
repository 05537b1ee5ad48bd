package policy

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

/*
Rule windowsOS: a HostProcess pod does not target Linux.

Fields:
  spec.os.name                                  when set, windows
  spec.nodeSelector["kubernetes.io/os"]         when set, windows
  spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[*]
                                                no term can only match kubernetes.io/os values other than windows

A term excludes windows when one of its matchExpressions on kubernetes.io/os is
In without windows, NotIn with windows, DoesNotExist, or Gt/Lt (which only
match integers).
*/

// RuleWindowsOS is the rule's stable ID: messages, metrics and reports use it.
const RuleWindowsOS = "windowsOS"

// OSLabel is the well-known node label for the operating system.
const OSLabel = "kubernetes.io/os"

func checkWindowsOS(ev *evaluation) {
	spec, sp := ev.in.Spec, ev.in.SpecPath
	if spec.OS != nil && spec.OS.Name != corev1.Windows {
		field := sp + ".os.name"
		ev.add(RuleWindowsOS, PodTarget, field, "pod: "+field+" "+quote(string(spec.OS.Name))+" is not allowed (allowed: windows)")
	}
	if v, ok := spec.NodeSelector[OSLabel]; ok && v != string(corev1.Windows) {
		ev.add(RuleWindowsOS, PodTarget, sp+".nodeSelector["+OSLabel+"]",
			"pod: "+sp+`.nodeSelector["`+OSLabel+`"] `+quote(v)+" is not allowed (allowed: windows)")
	}
	for i, term := range requiredTerms(spec) {
		if termExcludesWindows(&term) {
			field := sp + ".affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[" + strconv.Itoa(i) + "]"
			ev.add(RuleWindowsOS, PodTarget, field,
				"pod: "+field+" can only match "+OSLabel+" values other than windows (allowed: terms that can match "+OSLabel+"=windows)")
		}
	}
}

// requiredTerms returns the required node-affinity terms of spec, if any.
func requiredTerms(spec *corev1.PodSpec) []corev1.NodeSelectorTerm {
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		return a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	return nil
}

// termExcludesWindows reports whether no node labelled kubernetes.io/os=windows
// can satisfy term.
func termExcludesWindows(term *corev1.NodeSelectorTerm) bool {
	for _, req := range term.MatchExpressions {
		if req.Key != OSLabel {
			continue
		}
		switch req.Operator {
		case corev1.NodeSelectorOpIn:
			if !containsString(req.Values, string(corev1.Windows)) {
				return true
			}
		case corev1.NodeSelectorOpNotIn:
			if containsString(req.Values, string(corev1.Windows)) {
				return true
			}
		case corev1.NodeSelectorOpExists:
		default: // DoesNotExist, Gt, Lt, and anything unknown
			return true
		}
	}
	return false
}

// termConstrainsOS reports whether term has an expression on kubernetes.io/os.
func termConstrainsOS(term *corev1.NodeSelectorTerm) bool {
	for _, req := range term.MatchExpressions {
		if req.Key == OSLabel {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
