#pragma once

// The Kubernetes control plane of the lab, when its binaries are on this host (Debian does not package them):
// kube-apiserver against the lab's etcd, and, when they are found too, kube-scheduler,
// kube-controller-manager and kwok with one fake node, so pods get scheduled and go Running without a
// kubelet. Binaries are looked up as envtest does: $KUBEBUILDER_ASSETS first, then PATH. They are optional
// services: when a binary is missing the lab starts without it and says so.
//
// kube-apiserver's folder holds what it was started with, made by the openssl CLI at start-up: ca.crt/ca.key
// (a throw-away CA), server.crt/server.key (127.0.0.1, localhost), sa.key/sa.pub (service-account signing),
// tokens.csv (one random token, user kubeproof-admin in system:masters, mode 0600), and the kubeconfig its
// clients use (token-based, mode 0600).

#include <filesystem>
#include <memory>
#include <string>

#include "lab/services.hpp"

namespace kp::lab {

// What `lab up`/`lab status` say when kube-apiserver (or another control-plane binary) is not found.
inline constexpr std::string_view kKubeMissingHint = "not found (set KUBEBUILDER_ASSETS or put it on PATH)";

// kwok manages only nodes with this annotation, and the lab's fake node carries it (and the label type=kwok).
inline constexpr std::string_view kKwokNodeAnnotation = "kwok.x-k8s.io/node";
inline constexpr std::string_view kKwokNodeName = "kwok-node-0";

std::unique_ptr<ServiceSpec> make_kube_apiserver_spec();
std::unique_ptr<ServiceSpec> make_kube_scheduler_spec();
std::unique_ptr<ServiceSpec> make_kube_controller_manager_spec();
std::unique_ptr<ServiceSpec> make_kwok_spec();

// The files of a kube-apiserver service dir (the lab's is <state_dir>/kube-apiserver).
inline std::filesystem::path kube_kubeconfig(const std::filesystem::path& dir) {
  return dir / "kubeconfig";
}

}  // namespace kp::lab
