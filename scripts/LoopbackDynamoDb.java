// Starts DynamoDB Local bound to 127.0.0.1 only. DynamoDB Local has no host option and
// listens on every interface; this builds the same server from the same command-line
// arguments and pins its Jetty connectors to loopback before starting it.
import java.lang.reflect.Field;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDb {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        int pinned = 0;
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector) {
                ((ServerConnector) connector).setHost("127.0.0.1");
                pinned++;
            }
        }
        if (pinned == 0) {
            throw new IllegalStateException("no connector to pin to loopback; refusing to listen on all interfaces");
        }
        proxy.start();
        proxy.join();
    }
}
