//! The whole binary: serve the tasks, workflows and durable handlers of `order_service`.

orkestra::main!(order_service);
