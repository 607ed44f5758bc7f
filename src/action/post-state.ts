// The name under which the main step tells the post step what to remove.
export const KUBECONFIG_STATE = "kubeconfig-dir";
